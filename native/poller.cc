#include "poller.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace wasmshark {

namespace {
// How long a record may wait in the ring buffer while records flow and fewer
// than the kernel's wake-up threshold are queued: bounds alert latency.
constexpr int kPollMs = 10;
// Quiet for this many polls, the reader sleeps until the kernel wakes it (a
// record after a quiet spell does), polling only as a safety net: a record
// committed without a wake-up just after a drain would otherwise wait forever.
constexpr int kQuietPolls = 10;
constexpr int kIdlePollMs = 250;
std::mutex pool_mu;
std::vector<Batch*> pool;
// Batches kept for reuse; the rest are unmapped when released.
constexpr size_t kPoolMax = 8;
}  // namespace

Batch* Batch::Take() {
  {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (!pool.empty()) {
      Batch* b = pool.back();
      pool.pop_back();
      b->size_ = 0;
      return b;
    }
  }
  void* mem = mmap(nullptr, kCapacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  return new Batch(static_cast<uint8_t*>(mem));
}

void Batch::Release(Batch* batch) {
  if (!batch) return;
  {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (pool.size() < kPoolMax) {
      pool.push_back(batch);
      return;
    }
  }
  munmap(batch->data_, kCapacity);
  delete batch;
}

uint8_t* Batch::Grow(size_t n) {
  if (n > kCapacity - size_) return nullptr;
  uint8_t* at = data_ + size_;
  size_ += n;
  return at;
}

Poller::Poller(BpfSession& session, size_t batch_bytes, Deliver deliver, Done done)
    : session_(session), batch_bytes_(batch_bytes), deliver_(std::move(deliver)),
      done_(std::move(done)) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw BpfError(std::string("eventfd: ") + strerror(errno), errno);
}

Poller::~Poller() {
  RequestStop();
  Join();
  Batch::Release(batch_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void Poller::Start() {
  session_.SetSink([this](const void* data, size_t size) { Append(data, size); });
  thread_ = std::thread(&Poller::Run, this);
}

void Poller::RequestStop(bool hand_off) {
  if (hand_off) hand_off_.store(true);
  if (stop_.exchange(true)) return;
  uint64_t one = 1;
  // Wakes epoll_wait at once; nothing to do if the write fails (counter full).
  ssize_t ignored = write(stop_fd_, &one, sizeof(one));
  (void)ignored;
}

void Poller::Join() {
  if (thread_.joinable()) thread_.join();
}

void Poller::Append(const void* data, size_t size) {
  const size_t padded = (size + 7) & ~size_t{7};
  uint8_t* out = nullptr;
  for (int attempt = 0; attempt < 2 && !out; attempt++) {
    if (!batch_) batch_ = Batch::Take();
    if (!batch_) break;
    out = batch_->Grow(8 + padded);
    if (!out) Flush();  // full: hand it over and start another
  }
  if (!out) {
    lost_++;
    return;
  }
  const uint32_t head[2] = {static_cast<uint32_t>(size), 0};
  memcpy(out, head, sizeof(head));
  memcpy(out + 8, data, size);
  if (padded != size) memset(out + 8 + size, 0, padded - size);
  if (batch_->size() >= batch_bytes_) Flush();
}

void Poller::Flush() {
  if (batch_ && !batch_->empty()) {
    deliver_(batch_);
    batch_ = nullptr;
  }
}

void Poller::Run() {
  int err = 0;
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev = {};
  if (epfd < 0) {
    err = errno;
  } else {
    ev.events = EPOLLIN;
    ev.data.u32 = 0;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, session_.EpollFd(), &ev)) err = errno;
    ev.data.u32 = 1;
    if (!err && epoll_ctl(epfd, EPOLL_CTL_ADD, stop_fd_, &ev)) err = errno;
  }

  // The kernel wakes us only once a batch's worth is waiting (batched
  // wake-ups); whatever is less than that is fetched on this timer.
  int quiet = 0;
  while (!err && !stop_.load()) {
    epoll_event ready[2];
    int n = epoll_wait(epfd, ready, 2, quiet >= kQuietPolls ? kIdlePollMs : kPollMs);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    int consumed = session_.Consume();
    if (consumed < 0 && consumed != -EINTR) err = -consumed;
    quiet = consumed > 0 ? 0 : quiet + 1;
    Flush();
  }

  // Stop following first and deliver what the targets did: the report can be
  // written while the detach below waits out its grace periods (~25 ms a
  // syscall tracepoint). Records of syscalls in flight still arrive after.
  session_.ClearTargets();
  session_.Consume();
  Flush();
  deliver_(nullptr);
  if (hand_off_.load())
    session_.HandOff();
  else
    session_.Detach();
  session_.Consume();
  Flush();
  if (epfd >= 0) close(epfd);
  done_(err);
}

}  // namespace wasmshark
