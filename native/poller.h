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
//
// Batches are filled on the polling thread and freed on the JS thread when
// the Buffer wrapping one is collected. Through malloc, that pattern left
// 256 KiB blocks scattered across arenas and RSS climbing by megabytes a
// second under load with a flat JS heap; so a batch's memory comes straight
// from mmap, a few are kept for reuse, and the rest go back to the kernel.
class Batch {
 public:
  static constexpr size_t kCapacity = 320 * 1024;  // kBatchBytes plus room for the record that crosses it

  // nullptr when the kernel has no memory for one.
  static Batch* Take();
  static void Release(Batch* batch);

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Room for n more bytes at the end, or nullptr if they do not fit.
  uint8_t* Grow(size_t n);

 private:
  explicit Batch(uint8_t* data) : data_(data) {}
  uint8_t* data_;
  size_t size_ = 0;
};

class Poller {
 public:
  // deliver takes ownership of the batch; it may block (backpressure); at
  // stop it is called once with nullptr when everything the targets did has
  // been delivered, before the (slow) detach. done runs last on the polling
  // thread, with 0 or the errno that ended polling.
  using Deliver = std::function<void(Batch*)>;
  using Done = std::function<void(int err)>;

  Poller(BpfSession& session, size_t batch_bytes, Deliver deliver, Done done);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void Start();
  uint64_t Lost() const { return lost_.load(); }
  // Ask the thread to detach the probes, drain what is left and finish;
  // hand_off: leave the detach to a child process (BpfSession::HandOff).
  void RequestStop(bool hand_off = false);
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
  std::atomic<bool> hand_off_{false};
  Batch* batch_ = nullptr;
  // Records that could not be copied out (no memory for a batch): counted, never silent.
  std::atomic<uint64_t> lost_{0};
  std::thread thread_;
};

}  // namespace wasmshark
