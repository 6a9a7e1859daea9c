// Threads that run long reads aside from the calls being served: at a lower scheduling priority
// (nice +10), so that on a busy machine a custody report or an audit export takes the CPU the
// releases leave, instead of a share of it (issue 18).
#ifndef KLUIS_SERVER_STORAGE_ASIDE_H_
#define KLUIS_SERVER_STORAGE_ASIDE_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace kluis::storage {

class AsideThreads {
 public:
  // How much nicer than the process the threads run (Linux schedules threads one by one).
  static constexpr int kNiceness = 10;

  explicit AsideThreads(int threads);
  ~AsideThreads();
  AsideThreads(const AsideThreads&) = delete;
  AsideThreads& operator=(const AsideThreads&) = delete;

  // Runs `task` on one of the threads and returns when it has run. A task must not itself Run
  // here: with every thread waiting on a task of its own, none would be left to run them.
  void Run(absl::FunctionRef<void()> task);

 private:
  struct Task {
    absl::FunctionRef<void()> run;
    bool done = false;
  };
  void Loop();

  absl::Mutex mu_;
  std::deque<Task*> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace kluis::storage

#endif  // KLUIS_SERVER_STORAGE_ASIDE_H_
