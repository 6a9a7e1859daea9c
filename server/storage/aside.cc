#include "server/storage/aside.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kluis::storage {

AsideThreads::AsideThreads(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

AsideThreads::~AsideThreads() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void AsideThreads::Run(absl::FunctionRef<void()> run) {
  Task task{run};
  absl::MutexLock lock(&mu_);
  tasks_.push_back(&task);
  mu_.Await(absl::Condition(&task.done));
}

void AsideThreads::Loop() {
  // Raising a thread's niceness needs no privilege; where it is refused anyway (a seccomp filter),
  // the thread runs at the normal priority, which is only slower for releases beside it.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kNiceness);
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(
        +[](AsideThreads* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return self->stopping_ || !self->tasks_.empty();
        },
        this));
    if (tasks_.empty()) return;  // stopping, and nothing left to run
    Task* task = tasks_.front();
    tasks_.pop_front();
    mu_.Unlock();
    task->run();
    mu_.Lock();
    task->done = true;
  }
}

}  // namespace kluis::storage
