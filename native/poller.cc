#include "poller.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wasmshark {

Poller::Poller(BpfSession& session, size_t batch_bytes, Deliver deliver, Done done)
    : session_(session), batch_bytes_(batch_bytes), deliver_(std::move(deliver)),
      done_(std::move(done)) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw BpfError(std::string("eventfd: ") + strerror(errno), errno);
}

Poller::~Poller() {
  RequestStop();
  Join();
  if (stop_fd_ >= 0) close(stop_fd_);
}

void Poller::Start() {
  session_.SetSink([this](const void* data, size_t size) { Append(data, size); });
  thread_ = std::thread(&Poller::Run, this);
}

void Poller::RequestStop() {
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
  if (!batch_) {
    batch_ = std::make_unique<Batch>();
    batch_->reserve(batch_bytes_ + 4096);
  }
  const size_t padded = (size + 7) & ~size_t{7};
  const size_t at = batch_->size();
  batch_->resize(at + 8 + padded);
  uint8_t* out = batch_->data() + at;
  const uint32_t head[2] = {static_cast<uint32_t>(size), 0};
  memcpy(out, head, sizeof(head));
  memcpy(out + 8, data, size);
  if (padded != size) memset(out + 8 + size, 0, padded - size);
  if (batch_->size() >= batch_bytes_) Flush();
}

void Poller::Flush() {
  if (batch_ && !batch_->empty()) deliver_(batch_.release());
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

  while (!err && !stop_.load()) {
    epoll_event ready[2];
    int n = epoll_wait(epfd, ready, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    for (int i = 0; i < n; i++) {
      if (ready[i].data.u32 != 0) continue;
      int consumed = session_.Consume();
      if (consumed < 0 && consumed != -EINTR) err = -consumed;
    }
    Flush();
  }

  // Detach first so the drain below sees everything that will ever arrive.
  session_.Detach();
  session_.Consume();
  Flush();
  if (epfd >= 0) close(epfd);
  done_(err);
}

}  // namespace wasmshark
