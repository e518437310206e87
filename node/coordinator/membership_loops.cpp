#include "node/coordinator/membership_loops.h"

#include <spdlog/spdlog.h>

#include "discovery/mdns_browser.h"
#include "node/coordinator/cluster.h"
#include "node/coordinator/membership.h"
#include "node/coordinator/session_runner.h"

namespace baton {

namespace {

kj::Promise<void> follow_membership_loop(kj::AsyncIoContext& io, Cluster& cluster, SessionRunner& runner,
                                         discovery::MdnsBrowser& browser, const std::vector<std::string>& static_peers,
                                         MembershipDebounce& debounce) {
  return io.provider->getTimer().afterDelay(1 * kj::SECONDS).then([&io, &cluster, &runner, &browser, &static_peers,
                                                                   &debounce] {
    const auto seen = plan_candidates(static_peers, browser.peers());
    const auto now = MembershipDebounce::Clock::now();
    kj::Promise<void> step = kj::READY_NOW;
    if (runner.busy() == 0) {
      if (auto candidates = debounce.observe(seen, cluster.candidates(), now)) {
        debounce.replanned(now);
        spdlog::info("cluster membership changed ({}): re-planning for the next session",
                     describe_change(cluster.candidates(), *candidates));
        step = cluster.reassemble(std::move(*candidates), [&runner] { return runner.busy() == 0; })
                   .catch_([](kj::Exception&& e) { spdlog::error("re-planning failed: {}", e.getDescription().cStr()); });
      }
    }
    return step.then([&io, &cluster, &runner, &browser, &static_peers, &debounce] {
      return follow_membership_loop(io, cluster, runner, browser, static_peers, debounce);
    });
  });
}

}  // namespace

kj::Promise<void> follow_membership(kj::AsyncIoContext& io, Cluster& cluster, SessionRunner& runner,
                                    discovery::MdnsBrowser& browser, const std::vector<std::string>& static_peers) {
  // A change must hold for 2 s, and re-plans come at most every 5 s: flapping or briefly
  // announced peers do not reload the nodes over and over.
  auto debounce = kj::heap<MembershipDebounce>(std::chrono::seconds(2), std::chrono::seconds(5));
  auto& ref = *debounce;
  return follow_membership_loop(io, cluster, runner, browser, static_peers, ref).attach(kj::mv(debounce));
}

kj::Promise<void> rejoin_lost_nodes(kj::AsyncIoContext& io, Cluster& cluster, SessionRunner& runner, kj::Duration period) {
  return io.provider->getTimer().afterDelay(period).then([&io, &cluster, &runner, period] {
    kj::Promise<void> step = kj::READY_NOW;
    if (!cluster.lost().empty() && runner.busy() == 0) {
      step = cluster.lost_node_answers(period).then([&cluster, &runner](bool back) -> kj::Promise<void> {
        if (!back || runner.busy() != 0) return kj::READY_NOW;
        spdlog::info("a lost node answers again: re-planning with it");
        return cluster.rejoin().catch_([](kj::Exception&& e) {
          spdlog::error("re-planning with the returning node failed: {}", e.getDescription().cStr());
        });
      });
    }
    return step.then([&io, &cluster, &runner, period] { return rejoin_lost_nodes(io, cluster, runner, period); });
  });
}

}  // namespace baton
