#include "node/coordinator/membership_loops.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "discovery/mdns_browser.h"
#include "node/coordinator/cluster.h"
#include "node/coordinator/membership.h"
#include "node/coordinator/session_runner.h"
#include "transport/user_errors.h"

namespace baton {

namespace {

// What the membership loop carries from one look to the next.
struct MembershipFollowing {
  MembershipDebounce debounce;
  std::string last_change;  // logged at info once; a change that keeps coming back (a
                            // neighbour that never joins) goes to debug after that
};

kj::Promise<void> follow_membership_loop(kj::AsyncIoContext& io, Cluster& cluster, SessionRunner& runner,
                                         discovery::MdnsBrowser& browser, const std::vector<std::string>& static_peers,
                                         MembershipFollowing& following) {
  return io.provider->getTimer().afterDelay(1 * kj::SECONDS).then([&io, &cluster, &runner, &browser, &static_peers,
                                                                   &following] {
    const auto seen = plan_candidates(static_peers, browser.peers());
    const auto now = MembershipDebounce::Clock::now();
    kj::Promise<void> step = kj::READY_NOW;
    if (runner.busy() == 0) {
      if (auto candidates = following.debounce.observe(seen, cluster.candidates(), now)) {
        following.debounce.replanned(now);
        const std::string change = describe_change(cluster.candidates(), *candidates);
        if (change != following.last_change) {
          spdlog::info("cluster membership changed ({}): re-planning for the next session", change);
          following.last_change = change;
        } else {
          spdlog::debug("cluster membership still differs ({}): trying again", change);
        }
        step = cluster.reassemble(std::move(*candidates), [&runner] { return runner.busy() == 0; })
                   .catch_([](kj::Exception&& e) { spdlog::error("re-planning failed: {}", plain_message(e)); });
      }
    }
    return step.then([&io, &cluster, &runner, &browser, &static_peers, &following] {
      return follow_membership_loop(io, cluster, runner, browser, static_peers, following);
    });
  });
}

}  // namespace

kj::Promise<void> follow_membership(kj::AsyncIoContext& io, Cluster& cluster, SessionRunner& runner,
                                    discovery::MdnsBrowser& browser, const std::vector<std::string>& static_peers) {
  // A change must hold for 2 s, and re-plans come at most every 5 s: flapping or briefly
  // announced peers do not reload the nodes over and over.
  auto following = kj::heap<MembershipFollowing>(
      MembershipFollowing{MembershipDebounce(std::chrono::seconds(2), std::chrono::seconds(5)), {}});
  auto& ref = *following;
  return follow_membership_loop(io, cluster, runner, browser, static_peers, ref).attach(kj::mv(following));
}

// How long a lost node's rejoin probe may take (dial, handshake, describe).
constexpr kj::Duration kRejoinProbeTimeout = 10 * kj::SECONDS;

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
      // A node just woken (a phone out of sleep, a loaded machine) may take seconds to finish
      // the handshake; a probe bounded by the loop's period alone never saw it back under
      // load. The probe runs between sessions, so a longer bound only delays the re-plan.
      const kj::Duration probe_timeout = std::max(period, kRejoinProbeTimeout);
      step = cluster.lost_node_answers(probe_timeout).then([&cluster, &runner](bool back) -> kj::Promise<void> {
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
