// The polling thread: waits on the ring buffer, copies records into batches
// and hands each batch to a delivery function. Plain C++; no Node here.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "bpf_session.h"

namespace wasmshark {

// A batch is a run of records, each as [u32 size][u32 zero][size bytes][pad to 8].
using Batch = std::vector<uint8_t>;

class Poller {
 public:
  // deliver takes ownership of the batch; it may block (backpressure). done
  // runs last on the polling thread, with 0 or the errno that ended polling.
  using Deliver = std::function<void(Batch*)>;
  using Done = std::function<void(int err)>;

  Poller(BpfSession& session, size_t batch_bytes, Deliver deliver, Done done);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void Start();
  // Ask the thread to detach the probes, drain what is left and finish.
  void RequestStop();
  void Join();

 private:
  void Run();
  void Append(const void* data, size_t size);
  void Flush();

  BpfSession& session_;
  size_t batch_bytes_;
  Deliver deliver_;
  Done done_;
  int stop_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::unique_ptr<Batch> batch_;
  std::thread thread_;
};

}  // namespace wasmshark
