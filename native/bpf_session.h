// A loaded and attached wasmshark BPF object: open -> configure -> load ->
// attach, then target-set updates, counters and ring buffer access.
// Plain C++ over libbpf; nothing here knows about Node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

struct bpf_object;
struct bpf_link;
struct bpf_map;
struct ring_buffer;

namespace wasmshark {

// An error from the kernel or libbpf, carrying the errno it came with.
class BpfError : public std::runtime_error {
 public:
  BpfError(const std::string& message, int err) : std::runtime_error(message), err_(err) {}
  int err() const { return err_; }

 private:
  int err_;
};

enum class SyscallHooks {
  kLean,   // one tracepoint per syscall the rules need (needs tracefs)
  kExact,  // sys_enter/sys_exit: every syscall of every process runs a program
};

// Where lean hooks go (DESIGN.md "Backends"): trampolines on the kernel
// functions that do the work where the kernel lets them load, else the
// per-syscall tracepoints. kAuto chooses by a feature probe, silently.
enum class Backend {
  kAuto,
  kTrampoline,  // asked for: a refusal is said once, then the tracepoints
  kTracepoint,
};

// What the running kernel offers, probed before anything is loaded.
struct KernelFeatures {
  std::string release;      // uname -r
  bool ringbuf = false;     // BPF ring buffer (5.8)
  bool modern = false;      // bpf_loop, bpf_find_vma, bpf_task_pt_regs (5.17): the full object
  bool ia32 = false;        // a 64-bit process can make 32-bit syscalls (int 0x80)
};
KernelFeatures ProbeKernel();

struct SessionOptions {
  std::string object_path;         // for kernels with KernelFeatures::modern
  std::string legacy_object_path;  // the same programs for 5.8 to 5.16
  SyscallHooks syscalls = SyscallHooks::kLean;
  Backend backend = Backend::kAuto;  // lean hooks only: exact ones are sys_enter/sys_exit
  bool count_syscalls = false;  // exact mode only
  bool follow_children = true;
  bool watch_execs = false;     // report every exec on the host, followed or not
  bool capture_stacks = true;   // walk the user stack at alert-worthy events (EV_STACK)
  uint32_t ringbuf_bytes = 8u << 20;  // power of two, multiple of the page size
  // The 32-bit syscall hooks in lean mode, where int 0x80 works (always, unless the bench turns them off).
  bool compat_hooks = true;
  // Ask the verifier for its statistics (stack depth, instructions processed) per program.
  bool verifier_stats = false;
};

// Called for every record drained from the ring buffer, on the polling thread.
using RecordSink = std::function<void(const void* data, size_t size)>;

struct ProgramInfo {
  std::string name;
  uint32_t prog_id;
  uint32_t link_id;  // 0 when not attached
  // With SessionOptions::verifier_stats, from the verifier's own log (else -1):
  int stack_bytes;     // the deepest chain of frames, as the verifier adds them up (limit 512)
  int insns_processed; // instructions the verifier walked (limit 1,000,000)
};

class BpfSession {
 public:
  // Opens, configures, loads and attaches. Throws BpfError; nothing stays
  // loaded when it does.
  explicit BpfSession(const SessionOptions& options);
  ~BpfSession();
  BpfSession(const BpfSession&) = delete;
  BpfSession& operator=(const BpfSession&) = delete;

  void AddTarget(uint32_t tgid, uint64_t start_ticks, uint32_t root_tgid);
  // Stop following every target: the programs stay attached but report nothing new.
  void ClearTargets();
  void RemoveTarget(uint32_t tgid);
  bool HasTarget(uint32_t tgid) const;
  std::vector<uint32_t> Targets() const;

  // Per-event-type drop counters, summed over CPUs (index = enum ev_type).
  std::vector<uint64_t> Drops() const;
  // Syscall entry counts of the target set, index = syscall number.
  std::vector<uint64_t> SyscallCounts() const;
  std::vector<ProgramInfo> Programs() const;
  // The hooks in use: lean can turn into exact when tracefs cannot be had.
  SyscallHooks syscalls() const { return syscalls_; }
  // Said once each: why the session is not what was asked for (to show the user).
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Syscalls this kernel has no tracepoint for (not built in): nothing can call them.
  const std::vector<std::string>& absent() const { return absent_; }
  const KernelFeatures& kernel() const { return kernel_; }
  // Which object was loaded ("full" or "legacy"), and whether 32-bit syscalls are seen.
  bool legacy() const { return legacy_; }
  bool sees_compat() const { return sees_compat_; }
  // The lean hooks are trampolines (fentry/fexit), not tracepoints.
  bool trampolines() const { return trampolines_; }
  // Why the backend in use is not the trampolines ("" when it is): a refusal, or a choice.
  const std::string& backend_note() const { return backend_note_; }
  // Kernel functions the trampolines hook that this kernel's BTF lacks: what they would see is not seen.
  const std::vector<std::string>& unhooked() const { return unhooked_; }

  // Ring buffer: set where records go, then poll from one thread.
  void SetSink(RecordSink sink) { sink_ = std::move(sink); }
  int EpollFd() const;
  // Drain whatever is in the ring buffer now; returns records consumed or -errno.
  int Consume();
  // Bytes written to the ring buffer and not yet consumed (0 once closed).
  uint64_t RingBufferUsed() const;
  // Detach every program: no new records after this returns.
  void Detach();
  // For a process about to exit: the programs stop running, and the links'
  // release (an RCU grace period per syscall tracepoint, one after another) is
  // left to a short-lived child process. This process's own copies of the link
  // fds stay open until it exits. Falls back to Detach() if no child can be had.
  void HandOff();

 private:
  void Load(const SessionOptions& options, SyscallHooks hooks);
  bool WantTrampolines(const SessionOptions& options);
  void Close();
  void ChooseHooks(const SessionOptions& options, SyscallHooks hooks);
  void ReadVerifierStats();
  static int OnRecord(void* ctx, void* data, size_t size);

  KernelFeatures kernel_;
  bool legacy_ = false;
  bool sees_compat_ = false;
  bool exact_refused_ = false;
  bool trampolines_ = false;
  std::string backend_note_;
  std::vector<std::string> unhooked_;
  SyscallHooks syscalls_ = SyscallHooks::kLean;
  std::vector<std::string> warnings_;
  std::vector<std::string> absent_;
  // verifier_stats: one log buffer per program, then what was read from it
  std::vector<std::vector<char>> verifier_logs_;
  std::vector<std::pair<std::string, std::pair<int, int>>> verifier_stats_;

  bpf_object* obj_ = nullptr;
  mutable std::mutex links_mu_;  // Detach() runs on the polling thread
  std::vector<bpf_link*> links_;
  bpf_map* targets_ = nullptr;
  bpf_map* drops_ = nullptr;
  bpf_map* syscall_counts_ = nullptr;
  ring_buffer* rb_ = nullptr;
  // The ring buffer's consumer and producer position pages, mapped read-only
  // for RingBufferUsed() (libbpf 1.1 has no call for it).
  const volatile unsigned long* rb_consumer_ = nullptr;
  const volatile unsigned long* rb_producer_ = nullptr;
  RecordSink sink_;
  int ncpus_ = 1;
};

// Routes libbpf's log into a buffer the addon hands to JS after each call.
struct LogLine {
  int level;  // enum libbpf_print_level
  std::string text;
};
void CaptureLibbpfLog(bool debug);
std::vector<LogLine> TakeLibbpfLog();

}  // namespace wasmshark
