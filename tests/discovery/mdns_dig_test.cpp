// Interop with a DNS tool nobody here wrote: dig (Debian package bind9-dnsutils) queries a
// running announcer and its PTR, SRV, TXT and A answers must parse with the expected keys.
//
// Why `@127.0.0.1` and not `@224.0.0.251`: dig 9.18 connect()s its UDP socket to the
// server address, so the kernel drops every reply whose source is not 224.0.0.251:5353 -
// and no mDNS responder can send from a multicast source address; a legacy unicast reply
// (RFC 6762 §6.7) always comes from the responder's own address. The multicast-addressed
// legacy query path itself is covered by MdnsLoopback.LegacyUnicastQueryToTheGroup... with a
// socket that is not connected. A unicast query to the responder's address is the same
// legacy query (source port != 5353) and gets the same reply.
//
// Port: on the host, another test may hold a socket on 5353 too, and a unicast datagram
// reaches only one of several SO_REUSEADDR sockets, so the always-run test uses a private
// port. The second test uses the real port 5353 inside a private network namespace
// (needs root or user namespaces; skipped with the reason otherwise).
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "test_support.h"

namespace baton::discovery {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::run_command;
using testing::unique_name;
using testing::wait_until;

struct DigRecord {
  std::string owner, type;
  std::vector<std::string> data;
};

// Parses `dig +noall +answer +additional` output: "owner ttl class type rdata...".
std::vector<DigRecord> parse_dig(const std::string& output) {
  std::vector<DigRecord> out;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == ';') continue;
    std::istringstream fields(line);
    DigRecord r;
    std::string ttl, cls;
    if (!(fields >> r.owner >> ttl >> cls >> r.type) || cls != "IN") continue;
    std::string token;
    while (fields >> token) r.data.push_back(token);
    out.push_back(r);
  }
  return out;
}

// dig prints TXT as "key=value" "key=value" ...: returns the key/value pairs.
std::map<std::string, std::string> txt_pairs(const DigRecord& r) {
  std::map<std::string, std::string> kv;
  for (auto s : r.data) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    auto eq = s.find('=');
    if (eq != std::string::npos) kv.emplace(s.substr(0, eq), s.substr(eq + 1));
  }
  return kv;
}

// dig's presentation of a label: spaces become \032.
std::string dig_label(const std::string& label) {
  std::string out;
  for (char c : label) out += c == ' ' ? std::string("\\032") : std::string(1, c);
  return out;
}

void expect_full_answer(const std::vector<DigRecord>& records, const std::string& name, int port) {
  const std::string instance = dig_label(name) + "._baton._tcp.local.";
  bool ptr = false, srv = false, txt = false, a = false;
  for (const auto& r : records) {
    if (r.type == "PTR" && r.owner == "_baton._tcp.local." && r.data.size() == 1 && r.data[0] == instance) ptr = true;
    if (r.type == "SRV" && r.owner == instance) {
      ASSERT_EQ(r.data.size(), 4u);
      EXPECT_EQ(r.data[2], std::to_string(port));
      srv = true;
    }
    if (r.type == "TXT" && r.owner == instance) {
      auto kv = txt_pairs(r);
      EXPECT_EQ(kv["txtvers"], "1");
      EXPECT_EQ(kv["proto"], "1");
      EXPECT_EQ(kv["id"], "dig-id");
      EXPECT_EQ(kv["kind"], "laptop");
      EXPECT_EQ(kv["mem"], "8192");
      EXPECT_EQ(kv["gflops"], "99.5");
      EXPECT_EQ(kv["bw"], "40");
      EXPECT_EQ(kv["model"], "cafe01");
      EXPECT_EQ(kv["role"], "coordinator");
      txt = true;
    }
    if (r.type == "A" && r.data.size() == 1 && r.data[0] == "127.0.0.1") a = true;
  }
  EXPECT_TRUE(ptr) << "no PTR to " << instance;
  EXPECT_TRUE(srv) << "no SRV for " << instance;
  EXPECT_TRUE(txt) << "no TXT for " << instance;
  EXPECT_TRUE(a) << "no A record";
}

std::vector<std::string> announcer_args(const std::string& name, int port, int mdns_port) {
  return {BATON_MDNS_ANNOUNCER, "--name", name, "--port", std::to_string(port), "--interface", "lo",
          "--mdns-port", std::to_string(mdns_port), "--id", "dig-id", "--kind", "laptop", "--mem", "8192",
          "--gflops", "99.5", "--bw", "40", "--model", "cafe01", "--role", "coordinator"};
}

TEST(DigInterop, DigResolvesPtrSrvTxtAndA) {
  // Always runs: a missing dig is a failure with the package to install, not a skip.
  ASSERT_TRUE(testing::have_program("dig")) << "dig not found: apt-get install bind9-dnsutils";
  const std::string name = unique_name("dig node");
  const auto mdns_port = testing::free_udp_port();
  ChildProcess announcer(announcer_args(name, 7501, mdns_port));
  const std::string instance = dig_label(name) + "._baton._tcp.local";

  std::vector<DigRecord> records;
  std::string last_output;
  const bool resolved = wait_until([&] {
    auto r = run_command({"dig", "-p", std::to_string(mdns_port), "@127.0.0.1", "+tries=1", "+time=1", "+noall",
                          "+answer", "+additional", "_baton._tcp.local", "PTR"}, 5s);
    last_output = r.output;
    records = parse_dig(r.output);
    return records.size() >= 4;
  }, 5s);
  ASSERT_TRUE(resolved) << "dig got no full answer; last output:\n" << last_output << "\nannouncer:\n" << announcer.output();
  expect_full_answer(records, name, 7501);

  // Direct SRV and TXT queries for the instance name (with its escaped space) work too.
  auto srv = parse_dig(run_command({"dig", "-p", std::to_string(mdns_port), "@127.0.0.1", "+tries=2", "+time=1",
                                    "+noall", "+answer", instance, "SRV"}, 10s).output);
  ASSERT_EQ(srv.size(), 1u);
  EXPECT_EQ(srv[0].type, "SRV");
  EXPECT_EQ(srv[0].data.at(2), "7501");
  EXPECT_EQ(srv[0].data.at(3).substr(0, 8), "dig-node");  // host label: space became -
  auto txt = parse_dig(run_command({"dig", "-p", std::to_string(mdns_port), "@127.0.0.1", "+tries=2", "+time=1",
                                    "+noall", "+answer", instance, "TXT"}, 10s).output);
  ASSERT_EQ(txt.size(), 1u);
  EXPECT_EQ(txt_pairs(txt[0])["id"], "dig-id");
  // The answer's TTL is capped at 10 s for a legacy querier (RFC 6762 §6.7).
  auto raw = run_command({"dig", "-p", std::to_string(mdns_port), "@127.0.0.1", "+tries=2", "+time=1", "+noall",
                          "+answer", instance, "TXT"}, 10s).output;
  std::istringstream fields(raw);
  std::string owner, ttl;
  fields >> owner >> ttl;
  EXPECT_LE(std::stoi(ttl), 10) << raw;

  announcer.signal(SIGTERM);
  EXPECT_EQ(announcer.wait(5s), 0);
}

TEST(DigInterop, DigOnPort5353InAPrivateNetworkNamespace) {
  ASSERT_TRUE(testing::have_program("dig")) << "dig not found: apt-get install bind9-dnsutils";
  auto probe = run_command({"unshare", "-n", "true"}, 10s);
  if (probe.exit_code != 0)
    GTEST_SKIP() << "cannot create a network namespace here (needs root or user namespaces): " << probe.output;
  if (!testing::have_program("ip")) GTEST_SKIP() << "the 'ip' tool (iproute2) is not installed";
  const std::string name = unique_name("dig ns");
  // Inside the namespace: lo up, the announcer on the real port 5353, dig polled until the
  // node answers (bounded), then SIGTERM.
  const std::string script =
      "ip link set lo up || exit 90\n"
      "\"$@\" > /tmp/baton-dig-ns-$$.log 2>&1 & pid=$!\n"
      "i=0; out=''\n"
      "while [ $i -lt 40 ]; do\n"
      "  out=$(dig -p 5353 @127.0.0.1 +tries=1 +time=1 +noall +answer +additional _baton._tcp.local PTR)\n"
      "  case \"$out\" in *SRV*) break;; esac\n"
      "  sleep 0.1; i=$((i+1))\n"
      "done\n"
      "printf '%s\\n' \"$out\"\n"
      "kill -TERM $pid; wait $pid; rc=$?; rm -f /tmp/baton-dig-ns-$$.log; exit $rc\n";
  std::vector<std::string> argv = {"unshare", "-n", "sh", "-c", script, "sh"};
  for (auto& a : announcer_args(name, 7502, 5353)) argv.push_back(a);
  auto result = run_command(argv, 30s);
  ASSERT_NE(result.exit_code, 90) << "could not bring lo up in the namespace: " << result.output;
  EXPECT_EQ(result.exit_code, 0) << result.output;
  expect_full_answer(parse_dig(result.output), name, 7502);
}

}  // namespace
}  // namespace baton::discovery
