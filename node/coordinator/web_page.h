// The coordinator's web page (web/index.html, app.js, style.css): a chat view over
// /v1/chat/completions and a cluster view over /v1/cluster. The files are compiled into
// the binary (cmake/embed_files.cmake) so `baton coordinator` serves them from any directory.
#pragma once

#include <span>
#include <string_view>

namespace httplib { class Server; }

namespace baton {

struct EmbeddedFile {
  std::string_view name;   // base name, e.g. "app.js"
  std::string_view bytes;
};

// The files of web/, as they were at build time (generated web_files.cpp).
std::span<const EmbeddedFile> embedded_web_files();

// "text/html; charset=utf-8" etc., from the file name's extension.
std::string_view web_content_type(std::string_view name);

// Registers GET / (index.html) and GET /<name> for every other embedded file.
void serve_web_page(httplib::Server& server);

}  // namespace baton
