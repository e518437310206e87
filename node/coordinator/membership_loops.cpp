#include "node/coordinator/membership_loops.h"

#include <spdlog/spdlog.h>

#include "discovery/mdns_browser.h"
#include "node/coordinator/cluster.h"
#include "node/coordinator/membership.h"
#include "node/coordinator/session_runner.h"
#include "transport/user_errors.h"

namespace baton {

kj::Promise<void> follow_membership(kj::AsyncIoContext& io, Cluster& cluster, SessionRunner& runner,
                                    discovery::MdnsBrowser& browser, const std::vector<std::string>& static_peers) {
  return io.provider->getTimer().afterDelay(1 * kj::SECONDS).then([&io, &cluster, &runner, &browser, &static_peers] {
    auto candidates = plan_candidates(static_peers, browser.peers());
    kj::Promise<void> step = kj::READY_NOW;
    if (candidates != cluster.candidates() && runner.busy() == 0 && !candidates.empty()) {
      spdlog::info("cluster membership changed ({}): re-planning for the next session",
                   describe_change(cluster.candidates(), candidates));
      step = cluster.reassemble(std::move(candidates)).catch_([](kj::Exception&& e) {
        spdlog::error("re-planning failed: {}", plain_message(e));
      });
    }
    return step.then([&io, &cluster, &runner, &browser, &static_peers] {
      return follow_membership(io, cluster, runner, browser, static_peers);
    });
  });
}

kj::Promise<void> rejoin_lost_nodes(kj::AsyncIoContext& io, Cluster& cluster, SessionRunner& runner, kj::Duration period) {
  return io.provider->getTimer().afterDelay(period).then([&io, &cluster, &runner, period] {
    kj::Promise<void> step = kj::READY_NOW;
    if (cluster.replan_wanted() && runner.busy() == 0) {
      // A node stepped back (heat, battery) or came back: the next session gets a new plan.
      return cluster.replan_for_health()
          .catch_([](kj::Exception&& e) { spdlog::error("re-planning for heat and battery failed: {}", plain_message(e)); })
          .then([&io, &cluster, &runner, period] { return rejoin_lost_nodes(io, cluster, runner, period); });
    }
    if (!cluster.lost().empty() && runner.busy() == 0) {
      step = cluster.lost_node_answers(period).then([&cluster, &runner](bool back) -> kj::Promise<void> {
        if (!back || runner.busy() != 0) return kj::READY_NOW;
        spdlog::info("a lost node answers again: re-planning with it");
        return cluster.rejoin().catch_([](kj::Exception&& e) {
          spdlog::error("re-planning with the returning node failed: {}", plain_message(e));
        });
      });
    }
    return step.then([&io, &cluster, &runner, period] { return rejoin_lost_nodes(io, cluster, runner, period); });
  });
}

}  // namespace baton
