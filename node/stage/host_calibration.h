// This machine's single-thread arithmetic speed on the kernel a decode spends its time in
// (Q8_0 matrix-vector), for pacing a node to a slower device's speed when the simulator
// did not pass a figure measured on the real model (`baton node --host-gflops`).
#pragma once

namespace baton {

// GFLOP/s (2 per weight) of a single-thread Q8_0 matvec over a few hundred KiB of weights,
// best of short runs over about `budget_ms` in total.
double measure_host_gflops(double budget_ms = 150);

}  // namespace baton
