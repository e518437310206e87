// The coordinator's web page, served by a real coordinator with 2 node processes: the
// embedded files come back byte for byte, and Debian's headless chromium, opening
// /?prompt=..., streams a reply equal to the non-streamed greedy completion and fills
// the cluster view. Screenshots land in <build>/test-artefacts/ for a human to look at.
#include <gtest/gtest.h>
#include <httplib.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "local_cluster.h"

namespace baton {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// chromium from PATH, or "" when it is not installed.
std::string find_chromium() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const fs::path candidate = fs::path(dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return "";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Text of a serialised DOM text node back to the characters the page put there.
std::string unescape_html(std::string s) {
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&nbsp;", "\xC2\xA0"}, {"&quot;", "\""}, {"&amp;", "&"}}) {
    for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  }
  return s;
}

// From the tag that holds `marker` up to the next `end` (inclusive); "" if absent. Plain
// search, not std::regex, which recurses per character on long documents.
std::string element(const std::string& dom, const std::string& marker, const std::string& end) {
  const size_t at = dom.find(marker);
  if (at == std::string::npos) return "";
  const size_t open = dom.rfind('<', at);
  const size_t close = dom.find(end, at);
  if (open == std::string::npos || close == std::string::npos) return "";
  return dom.substr(open, close + end.size() - open);
}

// The value of attribute `name` in the serialised element `html` ("" if absent).
std::string attribute(const std::string& html, const std::string& name) {
  const std::string key = name + "=\"";
  const size_t at = html.find(key);
  if (at == std::string::npos) return "";
  const size_t end = html.find('"', at + key.size());
  return end == std::string::npos ? "" : html.substr(at + key.size(), end - at - key.size());
}

// Percent-encodes a query value (RFC 3986 unreserved characters pass).
std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

class WebPage : public test::SharedClusterSuite<WebPage> {
 public:
  static std::unique_ptr<test::LocalCluster> start() {
    return std::unique_ptr<test::LocalCluster>(new test::LocalCluster(
        std::string(BATON_SOURCE_DIR) + "/models/baton-kjv-5m.q8_0.gguf",
        std::vector<test::NodeSpec>(2), {"--ctx", "256"}, test::temp_dir("web")));
  }

 protected:
  std::string url(const std::string& query) const {
    return fmt::format("http://127.0.0.1:{}/{}", cluster_->http_port(), query);
  }

  // Runs headless chromium on `url` with `mode` (--dump-dom or --screenshot=...), bounded:
  // the page's own work runs in virtual time, and a browser that hangs is killed.
  static test::RunResult chromium(const std::string& binary, const std::vector<std::string>& mode, const std::string& url,
                                  const std::string& window = "1200,900") {
    std::vector<std::string> argv = {binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                     "--hide-scrollbars", "--user-data-dir=" + test::temp_dir("web-chromium"),
                                     "--window-size=" + window, "--virtual-time-budget=20000"};
    argv.insert(argv.end(), mode.begin(), mode.end());
    argv.push_back(url);
    return test::run_command(argv, std::chrono::seconds(40));
  }

};

TEST_F(WebPage, ServesTheEmbeddedFilesFromAnyDirectory) {
  // The coordinator runs from the build tree, not web/: these bytes are compiled in.
  httplib::Client c("127.0.0.1", cluster_->http_port());
  const std::vector<std::tuple<std::string, std::string, std::string>> files = {
      {"/", "index.html", "text/html; charset=utf-8"},
      {"/app.js", "app.js", "text/javascript; charset=utf-8"},
      {"/style.css", "style.css", "text/css; charset=utf-8"}};
  for (const auto& [path, file, type] : files) {
    auto r = c.Get(path.c_str());
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), type) << path;
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache") << path;
    EXPECT_EQ(r->body, read_file(fs::path(BATON_SOURCE_DIR) / "web" / file)) << path;
  }
  auto missing = c.Get("/appXjs");  // the route's dot is literal, not a pattern
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(WebPage, ChromiumStreamsTheGreedyReplyAndShowsTheCluster) {
  const std::string browser = find_chromium();
  if (browser.empty()) GTEST_SKIP() << "chromium is not installed: run ./setup.sh (it installs Debian's chromium)";
  const std::string prompt = "Tell me a fortune.";
  const int max_tokens = 8;

  // What the page must show: the same request, not streamed (temperature 0 is greedy).
  httplib::Client c("127.0.0.1", cluster_->http_port());
  c.set_read_timeout(60, 0);
  const json body = {{"messages", {{{"role", "user"}, {"content", prompt}}}}, {"max_tokens", max_tokens}, {"temperature", 0}};
  auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string expected = json::parse(r->body)["choices"][0]["message"]["content"];
  ASSERT_FALSE(expected.empty());

  const std::string chat_url = url(fmt::format("?prompt={}&max_tokens={}&temperature=0", url_encode(prompt), max_tokens));
  const auto dom = chromium(browser, {"--dump-dom"}, chat_url);
  ASSERT_EQ(dom.code, 0) << "chromium failed or was killed: " << dom.err.substr(0, 2000);

  const std::string reply = element(dom.out, R"(id="reply-0")", "</div>");
  ASSERT_FALSE(reply.empty()) << "no #reply-0 in the page:\n" << dom.out;
  EXPECT_NE(reply.find(R"(data-done="1")"), std::string::npos) << "the streamed reply did not finish: " << reply;
  // The reply is rendered as Markdown; the text it was rendered from is kept beside it.
  EXPECT_EQ(unescape_html(attribute(reply, "data-text")), expected);
  EXPECT_NE(dom.out.find(">Copy<"), std::string::npos) << "no Copy button under the finished reply";

  // The cluster view is filled on load: both devices, and a plan segment for each.
  const std::string devices = element(dom.out, R"(id="cluster-devices")", "</table>");
  EXPECT_NE(devices.find(">node0<"), std::string::npos) << devices;
  EXPECT_NE(devices.find(">node1<"), std::string::npos) << devices;
  const std::string plan = element(dom.out, R"(id="cluster-plan")", R"(class="plan-axis")");
  EXPECT_NE(plan.find(R"(class="plan-segment")"), std::string::npos) << plan;
  EXPECT_NE(plan.find(R"(data-device="node0")"), std::string::npos) << plan;
  EXPECT_NE(plan.find(R"(data-device="node1")"), std::string::npos) << plan;

  // Screenshots of both views, for people: the PNGs must exist and hold a real picture.
  const fs::path artefacts = fs::path(BATON_BINARY_DIR) / "test-artefacts";
  fs::create_directories(artefacts);
  struct Shot {
    std::string name, page, window;
    uint32_t width, height;
  };
  const std::vector<Shot> shots = {{"web-chat.png", chat_url, "1200,900", 1200, 900},
                                   {"web-cluster.png", url("?view=cluster"), "1200,900", 1200, 900},
                                   {"web-chat-phone.png", chat_url, "390,844", 390, 844},
                                   {"web-cluster-phone.png", url("?view=cluster"), "390,844", 390, 844}};
  for (const auto& [name, page, window, width, height] : shots) {
    const fs::path png = artefacts / name;
    fs::remove(png);
    const auto shot = chromium(browser, {"--screenshot=" + png.string()}, page, window);
    ASSERT_EQ(shot.code, 0) << name << ": " << shot.err.substr(0, 2000);
    ASSERT_TRUE(fs::exists(png)) << png;
    const std::string bytes = read_file(png);
    EXPECT_GT(bytes.size(), 10u * 1024) << png << " looks blank";
    ASSERT_GE(bytes.size(), 24u);
    EXPECT_EQ(bytes.substr(1, 3), "PNG") << png;
    auto be32 = [&](size_t at) {
      return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
             (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
    };
    EXPECT_EQ(be32(16), width) << png << " width";  // IHDR
    EXPECT_EQ(be32(20), height) << png << " height";
  }
}

TEST_F(WebPage, DevicesFitAPhoneScreen) {
  const std::string browser = find_chromium();
  if (browser.empty()) GTEST_SKIP() << "chromium is not installed: run ./setup.sh (it installs Debian's chromium)";
  const auto dom = chromium(browser, {"--dump-dom"}, url("?view=cluster"), "390,844");
  ASSERT_EQ(dom.code, 0) << dom.err.substr(0, 2000);
  const std::string body = element(dom.out, "<body", ">");
  const std::string width = attribute(body, "data-scroll-width");
  ASSERT_FALSE(width.empty()) << "the cluster view did not render: " << body;
  // Headless chromium lays out --dump-dom pages at least 500 px wide (screenshots are 390):
  // still the phone layout (< 640 px), and nothing may stick out of the window.
  const int inner = std::stoi(attribute(body, "data-inner-width"));
  EXPECT_LT(inner, 640);
  EXPECT_LE(std::stoi(width), inner) << "the page is wider than the phone's window: something is cut off";
  EXPECT_EQ(attribute(body, "data-devices-cut"), "false") << "the devices table needs sideways scrolling";
  const std::string devices = element(dom.out, R"(id="cluster-devices")", "</table>");
  EXPECT_NE(devices.find(R"(data-label="RTT ms")"), std::string::npos) << devices;
}

TEST(WebMarkdown, RendersCommonMarkdownAsElementsAndUntrustedHtmlAsText) {
  const std::string browser = find_chromium();
  if (browser.empty()) GTEST_SKIP() << "chromium is not installed: run ./setup.sh (it installs Debian's chromium)";
  // A page that renders a reply with web/markdown.js, straight from the source tree.
  const fs::path dir = test::temp_dir("web-markdown");
  const std::string reply =
      "# Title\nSome **bold**, *italic* and `code <b>`.\n\n- one\n- two <img src=x onerror=alert(1)>\n\n"
      "1. first\n2. second\n\n```python\nprint(\"<script>alert(1)</script>\")\n```\n"
      "[site](https://example.org) [bad](javascript:alert(1))\n<script>alert(2)</script>";
  std::string js_string;
  for (char c : reply) {  // a JS string literal that cannot close the <script> element ("<\/")
    js_string += c == '\n' ? std::string("\\n") : c == '"' ? std::string("\\\"") : c == '/' ? std::string("\\/") : std::string(1, c);
  }
  {
    std::ofstream page(dir / "markdown.html");
    page << "<!doctype html><meta charset=utf-8><body><div id=out></div><script src=\"file://" << BATON_SOURCE_DIR
         << "/web/markdown.js\"></script><script>document.getElementById('out').append(renderMarkdown(\"" << js_string
         << "\"));</script></body>";
  }
  std::vector<std::string> argv = {browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                   "--allow-file-access-from-files", "--user-data-dir=" + test::temp_dir("web-md-chromium"),
                                   "--dump-dom", "file://" + (dir / "markdown.html").string()};
  const auto dom = test::run_command(argv, std::chrono::seconds(40));
  ASSERT_EQ(dom.code, 0) << dom.err.substr(0, 2000);
  const std::string out = element(dom.out, R"(id="out")", "</div>");
  EXPECT_NE(out.find("<strong>bold</strong>"), std::string::npos) << out;
  EXPECT_NE(out.find("<em>italic</em>"), std::string::npos) << out;
  EXPECT_NE(out.find("<code>code &lt;b&gt;</code>"), std::string::npos) << out;
  EXPECT_NE(out.find("<ul><li>one</li><li>two &lt;img src=x onerror=alert(1)&gt;</li></ul>"), std::string::npos) << out;
  EXPECT_NE(out.find("<ol><li>first</li><li>second</li></ol>"), std::string::npos) << out;
  EXPECT_NE(out.find(R"(<pre><code data-lang="python" class="language-python">print("&lt;script&gt;alert(1)&lt;/script&gt;")</code></pre>)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"(href="https://example.org")"), std::string::npos) << out;
  EXPECT_EQ(out.find("javascript:alert(1)\""), std::string::npos) << "a javascript: link became an href: " << out;
  EXPECT_EQ(out.find("<script"), std::string::npos) << out;
  EXPECT_EQ(out.find("<img"), std::string::npos) << out;
  EXPECT_NE(out.find("&lt;script&gt;alert(2)&lt;/script&gt;"), std::string::npos) << out;
}

}  // namespace
}  // namespace baton
