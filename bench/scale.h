// kluis_bench scale: a generated national vault (issue 18), its listings, memory and start-up.
#ifndef KLUIS_BENCH_SCALE_H_
#define KLUIS_BENCH_SCALE_H_

#include <vector>

namespace kluis::bench {

// For each size in `accounts` (ascending): generates a vault of that many accounts (10 units, 250
// teams, a user per ten accounts, 20 audit records per account), serves it with the real kluisd
// and measures start-up, memory at rest and the listings; at the largest, release latency alone
// and beside continuous custody reports and full audit exports. Prints markdown.
int RunScale(const std::vector<int>& accounts, double seconds);

}  // namespace kluis::bench

#endif  // KLUIS_BENCH_SCALE_H_
