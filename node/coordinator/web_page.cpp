#include "node/coordinator/web_page.h"

#include <httplib.h>

#include <string>

namespace baton {

std::string_view web_content_type(std::string_view name) {
  auto ends_with = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  if (ends_with(".png")) return "image/png";
  return "application/octet-stream";
}

void serve_web_page(httplib::Server& server) {
  for (const EmbeddedFile& file : embedded_web_files()) {
    std::string path = "/";
    if (file.name != "index.html") {
      // httplib patterns are regular expressions: a literal dot must be escaped.
      for (char c : file.name) path += c == '.' ? std::string("\\.") : std::string(1, c);
    }
    // no-cache: a browser revalidates, so a rebuilt coordinator's page is never stale.
    server.Get(path, [file](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_content(file.bytes.data(), file.bytes.size(), std::string(web_content_type(file.name)));
    });
  }
}

}  // namespace baton
