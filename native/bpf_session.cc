#include "bpf_session.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <linux/perf_event.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "../bpf/events.h"

// The TypeScript decoder (src/sources/bpf/layout.ts) mirrors these numbers.
static_assert(sizeof(ev_hdr) == 56, "ev_hdr layout changed: update layout.ts");
static_assert(offsetof(ev_hdr, ts_ns) == 8 && offsetof(ev_hdr, ip) == 32 &&
                  offsetof(ev_hdr, comm) == 40,
              "ev_hdr offsets changed: update layout.ts");
static_assert(sizeof(ev_mem) == 112 + 8 * WS_STACK_WORDS && offsetof(ev_mem, result) == 88 &&
                  offsetof(ev_mem, placed) == 108 && offsetof(ev_mem, stack) == 112,
              "ev_mem layout changed: update layout.ts");
static_assert(sizeof(ev_exec) == 56 + 24 + 2 * WS_PATH_LEN + WS_MAX_ARGS * WS_ARG_LEN,
              "ev_exec layout changed: update layout.ts");
static_assert(sizeof(ev_connect) == 200 && offsetof(ev_connect, addr) == 72 &&
                  offsetof(ev_connect, path) == 88,
              "ev_connect layout changed: update layout.ts");
static_assert(sizeof(ev_memfd) == 64 + WS_PATH_LEN, "ev_memfd layout changed: update layout.ts");
static_assert(sizeof(ev_fork) == 88, "ev_fork layout changed: update layout.ts");
static_assert(sizeof(ev_exit) == 64, "ev_exit layout changed: update layout.ts");
static_assert(sizeof(ev_file) == 24 + WS_PATH_LEN && offsetof(ev_file, path) == 24,
              "ev_file layout changed: update layout.ts");
static_assert(sizeof(ev_mem_file) == sizeof(ev_mem) + sizeof(ev_file) && offsetof(ev_mem_file, file) == sizeof(ev_mem),
              "ev_mem_file layout changed: update layout.ts");
static_assert(sizeof(ev_anon_syscall) == 88 + sizeof(ev_file) && offsetof(ev_anon_syscall, file) == 88,
              "ev_anon_syscall layout changed: update layout.ts");
static_assert(sizeof(ev_syscall) == 96 && offsetof(ev_syscall, remote_addr) == 88,
              "ev_syscall layout changed: update layout.ts");
static_assert(sizeof(ev_open) == 72 + sizeof(ev_file) && offsetof(ev_open, file) == 72,
              "ev_open layout changed: update layout.ts");
static_assert(sizeof(ev_path) == 72 + sizeof(ev_file) + 2 * WS_PATH_LEN && offsetof(ev_path, at) == 72 &&
                  offsetof(ev_path, name) == 72 + sizeof(ev_file),
              "ev_path layout changed: update layout.ts");
static_assert(offsetof(ev_connect, flags) == 66, "ev_connect layout changed: update layout.ts");
static_assert(sizeof(ev_stack) == 64 + 8 * WS_STACK_DEPTH && offsetof(ev_stack, frames) == 64,
              "ev_stack layout changed: update layout.ts");
static_assert(sizeof(ev_stack_scan) == sizeof(ev_stack) + 16 + 8 * WS_STACK_SCAN_WORDS && offsetof(ev_stack_scan, scan) == sizeof(ev_stack) + 16,
              "ev_stack_scan layout changed: update layout.ts");
static_assert(sizeof(target) == 104, "target layout changed: update the loader");

namespace wasmshark {
namespace {

std::mutex log_mu;
std::vector<LogLine> log_lines;
bool log_debug = false;

// A verifier log can run to megabytes; its reason is at the end.
constexpr size_t kMaxLogText = 8192;

int OnLibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !log_debug) return 0;
  va_list again;
  va_copy(again, args);
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n < 0) {
    va_end(again);
    return n;
  }
  std::string text;
  if (static_cast<size_t>(n) < sizeof(buf)) {
    text.assign(buf, n);
  } else {
    text.resize(n + 1);
    vsnprintf(&text[0], text.size(), fmt, again);
    text.resize(n);
    if (text.size() > kMaxLogText) text = text.substr(0, 256) + "\n...\n" + text.substr(text.size() - kMaxLogText);
  }
  va_end(again);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::lock_guard<std::mutex> lock(log_mu);
  // Bound the buffer: a verifier log can run to megabytes.
  if (log_lines.size() < 4096) log_lines.push_back({static_cast<int>(level), std::move(text)});
  return n;
}

// Whether this process may load BPF programs at all: CAP_BPF (5.8) or, before
// it, CAP_SYS_ADMIN in its effective set. Root with its capabilities dropped
// has neither.
bool MayLoadBpf() {
  struct {
    uint32_t version;
    int pid;
  } header{0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
  struct {
    uint32_t effective, permitted, inheritable;
  } data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return geteuid() == 0;
  const bool sys_admin = data[0].effective & (1u << 21);
  const bool bpf = data[1].effective & (1u << (39 - 32));
  return sys_admin || bpf;
}

std::string ErrnoText(int err) {
  if ((err == EPERM || err == EACCES) && !MayLoadBpf())
    return std::string(strerror(err)) + " (run as root, or grant CAP_BPF and CAP_PERFMON)";
  return strerror(err);
}

bool StartsWith(const std::string& s, const char* prefix) { return s.compare(0, strlen(prefix), prefix) == 0; }

// The verifier's reason in a load log: its last line that is not one of the
// statistics the verifier ends with.
std::string RefusalReason(const std::string& log) {
  std::string reason;
  size_t pos = 0;
  while (pos < log.size()) {
    size_t eol = log.find('\n', pos);
    if (eol == std::string::npos) eol = log.size();
    std::string l = log.substr(pos, eol - pos);
    pos = eol + 1;
    if (l.empty() || StartsWith(l, "processed ") || StartsWith(l, "verification time") ||
        StartsWith(l, "stack depth") || StartsWith(l, "-- END") || StartsWith(l, "..."))
      continue;
    reason = l;
  }
  return reason.empty() ? "no reason given" : reason;
}

// The program libbpf said it failed to load ("prog 'NAME': BPF program load
// failed"), and its load log when libbpf printed one (it does unless the
// program had a log buffer of ours).
bool FailedProgram(std::string* name, std::string* log) {
  static const char kFailed[] = "': BPF program load failed";
  static const char kBegin[] = "-- BEGIN PROG LOAD LOG --";
  std::lock_guard<std::mutex> lock(log_mu);
  bool found = false;
  for (const LogLine& line : log_lines) {
    const std::string& text = line.text;
    size_t q = text.find("prog '");
    if (q == std::string::npos) continue;
    size_t end = text.find('\'', q + 6);
    if (end == std::string::npos) continue;
    if (text.compare(end, sizeof(kFailed) - 1, kFailed) == 0) {
      *name = text.substr(q + 6, end - q - 6);
      log->clear();
      found = true;
    } else if (found && text.substr(q + 6, end - q - 6) == *name) {
      size_t begin = text.find(kBegin);
      if (begin != std::string::npos) *log = text.substr(begin + sizeof(kBegin) - 1);
    }
  }
  return found;
}

// Whether int 0x80 makes a syscall in a 64-bit process here (IA-32 emulation
// built in and on). Tried in a child: where it is off, int 0x80 is a fault.
bool Int80Works() {
  pid_t pid = fork();
  if (pid == 0) {
    long ret = 20;  // i386 getpid
    asm volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
    _exit(ret > 0 ? 0 : 1);
  }
  if (pid < 0) return true;  // cannot tell: hook 32-bit syscalls rather than miss them
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return true;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Writes a `const volatile` global (bool or __u32), found by name in .rodata's BTF.
void SetRodata(bpf_object* obj, const char* name, const void* value, size_t value_size) {
  bpf_map* rodata = bpf_object__find_map_by_name(obj, ".rodata");
  const btf* types = bpf_object__btf(obj);
  size_t size = 0;
  const void* initial = rodata ? bpf_map__initial_value(rodata, &size) : nullptr;
  int sec = types ? btf__find_by_name_kind(types, ".rodata", BTF_KIND_DATASEC) : -1;
  if (!initial || sec < 0) throw BpfError("BPF object has no .rodata settings", EINVAL);
  std::vector<char> bytes(static_cast<const char*>(initial), static_cast<const char*>(initial) + size);
  const btf_type* datasec = btf__type_by_id(types, sec);
  const btf_var_secinfo* var = btf_var_secinfos(datasec);
  for (unsigned i = 0; i < btf_vlen(datasec); i++, var++) {
    const char* var_name = btf__name_by_offset(types, btf__type_by_id(types, var->type)->name_off);
    if (strcmp(var_name, name) == 0 && var->offset + value_size <= size && var->size == value_size) {
      memcpy(&bytes[var->offset], value, value_size);
      int err = bpf_map__set_initial_value(rodata, bytes.data(), bytes.size());
      if (err) throw BpfError(std::string("cannot set ") + name, -err);
      return;
    }
  }
  throw BpfError(std::string("BPF object has no setting ") + name, EINVAL);
}

void SetRodataBool(bpf_object* obj, const char* name, bool value) { SetRodata(obj, name, &value, 1); }

void SetRodataU32(bpf_object* obj, const char* name, uint32_t value) {
  SetRodata(obj, name, &value, sizeof(value));
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// Where libbpf reads tracepoint ids: debugfs's tracing directory when there is
// one, else tracefs. tracefs is not mounted on every machine; as root we mount
// it. Returns the directory, or "" with *why set.
std::string TracingDir(std::string* why) {
  if (Exists("/sys/kernel/debug/tracing")) {
    if (Exists("/sys/kernel/debug/tracing/events/syscalls")) return "/sys/kernel/debug/tracing";
    *why = "/sys/kernel/debug/tracing has no syscall events";
    return "";
  }
  const std::string dir = "/sys/kernel/tracing";
  if (Exists(dir + "/events/syscalls")) return dir;
  if (mount("nodev", dir.c_str(), "tracefs", 0, nullptr) != 0) {
    int err = errno;
    *why = "tracefs is not mounted at " + dir + " and mounting it failed: " + strerror(err);
    return "";
  }
  if (Exists(dir + "/events/syscalls")) return dir;
  *why = "tracefs at " + dir + " has no syscall events (kernel without CONFIG_FTRACE_SYSCALLS)";
  return "";
}

// Whether struct or union `id` of the kernel's BTF has a member `name`, looking
// into anonymous members as a C compiler does.
bool HasMember(const btf* types, int id, const char* name, int depth = 0) {
  const btf_type* t = btf__type_by_id(types, id);
  if (!t || !(btf_is_struct(t) || btf_is_union(t)) || depth > 4) return false;
  const btf_member* m = btf_members(t);
  for (unsigned i = 0; i < btf_vlen(t); i++, m++) {
    const char* n = btf__name_by_offset(types, m->name_off);
    if (n && strcmp(n, name) == 0) return true;
    if ((!n || !*n) && HasMember(types, btf__resolve_type(types, m->type), name, depth + 1)) return true;
  }
  return false;
}

// The io_uring programs hook tracepoints that exist where io_uring is built in
// and read request fields (io_kiocb.cmd, .cqe) that exist from 6.0 on; before
// that the tracepoints pass other arguments. Read from the kernel's BTF.
bool UringHookLoads(const btf* vmlinux, const std::string& event) {
  if (!vmlinux || btf__find_by_name_kind(vmlinux, ("btf_trace_" + event).c_str(), BTF_KIND_TYPEDEF) < 0) return false;
  int req = btf__find_by_name_kind(vmlinux, "io_kiocb", BTF_KIND_STRUCT);
  return req >= 0 && HasMember(vmlinux, req, "cmd") && HasMember(vmlinux, req, "cqe");
}

// The kernel's BTF, parsed once per process (~100 ms) and kept: it does not change.
const btf* VmlinuxBtf() {
  static std::once_flag once;
  static btf* vmlinux = nullptr;
  std::call_once(once, [] {
    btf* b = btf__load_vmlinux_btf();
    vmlinux = libbpf_get_error(b) ? nullptr : b;
  });
  return vmlinux;
}

// Whether a trampoline can be put on this kernel function: it is in the kernel's BTF.
bool KernelHasFunction(const std::string& name) {
  const btf* vmlinux = VmlinuxBtf();
  return vmlinux && btf__find_by_name_kind(vmlinux, name.c_str(), BTF_KIND_FUNC) >= 0;
}

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "errno " + std::to_string(err);
}

// The verifier gives up with EAGAIN when a signal is pending for the loading
// thread (a profiler's SIGPROF every millisecond, a child's SIGCHLD), and
// libbpf's few retries do not outlast a steady stream of them: signals wait
// until the load is over.
template <typename F>
auto WithSignalsBlocked(F&& load) -> decltype(load()) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  auto result = load();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return result;
}

// The feature probe for the trampoline backend: an empty fentry program on
// one of the functions the probes hook, loaded and attached, then dropped.
// "" when the kernel takes it, else why not (asked once per process).
std::string TrampolinesRefused() {
  static std::once_flag once;
  static std::string why;
  std::call_once(once, [] {
    const char* func = "ksys_mmap_pgoff";
    const btf* vmlinux = VmlinuxBtf();
    int id = vmlinux ? btf__find_by_name_kind(vmlinux, func, BTF_KIND_FUNC) : -1;
    if (id < 0) {
      why = vmlinux ? std::string("trampolines unusable: this kernel's BTF has no ") + func
                    : "trampolines unusable: this kernel has no BTF";
      return;
    }
    struct bpf_insn insns[2] = {};
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
    insns[1].code = BPF_JMP | BPF_EXIT;
    bpf_prog_load_opts opts = {};
    opts.sz = sizeof(opts);
    opts.expected_attach_type = BPF_TRACE_FENTRY;
    opts.attach_btf_id = id;
    int prog = WithSignalsBlocked([&] { return bpf_prog_load(BPF_PROG_TYPE_TRACING, "ws_fentry_probe", "GPL", insns, 2, &opts); });
    if (prog < 0) {
      why = "trampolines refused by this kernel: " + ErrnoName(errno);
      return;
    }
    int link = bpf_raw_tracepoint_open(nullptr, prog);
    if (link < 0) why = "trampolines refused by this kernel: " + ErrnoName(errno) + " at attach";
    else close(link);
    close(prog);
  });
  return why;
}

// Destroying a perf-event link waits for an RCU grace period (~70 ms here),
// one after another; in parallel the waits overlap.
void DestroyLinks(std::vector<bpf_link*>& links) {
  std::vector<std::thread> threads;
  for (bpf_link* link : links) {
    try {
      threads.emplace_back([link] { bpf_link__destroy(link); });
    } catch (const std::system_error&) {
      bpf_link__destroy(link);  // no thread to be had: do it here
    }
  }
  for (std::thread& t : threads) t.join();
  links.clear();
}

}  // namespace

void CaptureLibbpfLog(bool debug) {
  std::lock_guard<std::mutex> lock(log_mu);
  log_debug = debug;
  libbpf_set_print(OnLibbpfPrint);
}

std::vector<LogLine> TakeLibbpfLog() {
  std::lock_guard<std::mutex> lock(log_mu);
  std::vector<LogLine> out;
  out.swap(log_lines);
  return out;
}

KernelFeatures ProbeKernel() {
  KernelFeatures k;
  struct utsname u;
  if (uname(&u) == 0) k.release = u.release;
  k.ia32 = Int80Works();
  // Without the privilege to load anything the probes cannot tell: assume the
  // features are there and let the load say what is wrong.
  if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_ARRAY, nullptr) != 1) {
    k.ringbuf = k.modern = true;
    return k;
  }
  k.ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1;
  k.modern = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, nullptr) == 1 &&
             libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_find_vma, nullptr) == 1 &&
             libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_pt_regs, nullptr) == 1;
  return k;
}

// A ladder: the hooks asked for, and when exact hooks are refused, the lean
// ones with a warning saying why. What no rung can load is thrown.
BpfSession::BpfSession(const SessionOptions& options) {
  kernel_ = ProbeKernel();
  if (!kernel_.ringbuf)
    throw BpfError("Linux " + kernel_.release + " has no BPF ring buffer (it came in Linux 5.8)", ENOTSUP);
  legacy_ = !kernel_.modern;
  if (legacy_ && options.legacy_object_path.empty())
    throw BpfError("Linux " + kernel_.release + " lacks bpf_loop() and bpf_find_vma() and no legacy BPF object was given",
                   ENOTSUP);
  std::vector<SyscallHooks> rungs{options.syscalls};
  if (options.syscalls == SyscallHooks::kExact) rungs.push_back(SyscallHooks::kLean);
  for (size_t i = 0;; i++) {
    try {
      if (rungs[i] == SyscallHooks::kLean && WantTrampolines(options)) {
        try {
          trampolines_ = true;
          Load(options, rungs[i]);
          return;
        } catch (const BpfError& e) {
          // they passed the feature probe: this is a failure, not the kernel's choice
          Close();
          trampolines_ = false;
          backend_note_ = std::string("trampolines could not be loaded: ") + e.what();
          warnings_.push_back(std::string("the trampoline hooks could not be loaded (") + e.what() +
                              "); using the syscall tracepoints instead");
        }
      }
      Load(options, rungs[i]);
      return;
    } catch (const BpfError& e) {
      Close();
      if (i + 1 >= rungs.size()) throw;
      exact_refused_ = true;
      warnings_.push_back(std::string("exact syscall hooks could not be loaded (") + e.what() +
                          "); using the lean hooks instead");
    } catch (...) {
      Close();
      throw;
    }
  }
}

// Whether to try the trampolines for the lean hooks. A kernel that refuses
// them is not a failure (the tracepoints are the next rung): said only in
// backend_note(), and as a warning only when they were asked for.
bool BpfSession::WantTrampolines(const SessionOptions& options) {
  if (options.backend == Backend::kTracepoint) {
    backend_note_ = "the tracepoint backend was asked for";
    return false;
  }
  std::string why = TrampolinesRefused();
  if (why.empty()) return true;
  backend_note_ = why;
  if (options.backend == Backend::kTrampoline)
    warnings_.push_back("the trampoline backend was asked for: " + why + "; using the syscall tracepoints instead");
  return false;
}

void BpfSession::Load(const SessionOptions& options, SyscallHooks hooks) {
  int err;
  const std::string& path = legacy_ ? options.legacy_object_path : options.object_path;
  obj_ = bpf_object__open_file(path.c_str(), nullptr);
  if (!obj_) {
    err = errno;
    throw BpfError("cannot open BPF object " + path + ": " + strerror(err), err);
  }

  // Configuration: .rodata globals and map sizes, fixed between open and load.
  ChooseHooks(options, hooks);
  SetRodataBool(obj_, "follow_children", options.follow_children);
  SetRodataBool(obj_, "count_syscalls", options.count_syscalls && syscalls_ == SyscallHooks::kExact);
  SetRodataBool(obj_, "watch_execs", options.watch_execs);
  SetRodataBool(obj_, "capture_stacks", options.capture_stacks);
  // An eighth of the buffer is kept for the first event of each kind per process.
  SetRodataU32(obj_, "headroom", options.ringbuf_bytes / 8);
  SetRodataU32(obj_, "wakeup_bytes", std::min<uint32_t>(64u << 10, options.ringbuf_bytes / 4));
  bpf_map* events = bpf_object__find_map_by_name(obj_, "events");
  targets_ = bpf_object__find_map_by_name(obj_, "targets");
  drops_ = bpf_object__find_map_by_name(obj_, "drops");
  syscall_counts_ = bpf_object__find_map_by_name(obj_, "syscall_counts");
  if (!events || !targets_ || !drops_ || !syscall_counts_)
    throw BpfError("BPF object " + path + " lacks the wasmshark maps", EINVAL);
  if ((err = bpf_map__set_max_entries(events, options.ringbuf_bytes)))
    throw BpfError("invalid ring buffer size " + std::to_string(options.ringbuf_bytes), -err);

  bpf_program* prog;
  verifier_logs_.clear();
  verifier_stats_.clear();
  if (options.verifier_stats) {
    bpf_object__for_each_program(prog, obj_) {
      if (!bpf_program__autoload(prog)) continue;
      verifier_logs_.emplace_back(64 * 1024, '\0');
      bpf_program__set_log_buf(prog, verifier_logs_.back().data(), verifier_logs_.back().size());
      bpf_program__set_log_level(prog, 4 /* BPF_LOG_STATS */);
    }
  }

  err = WithSignalsBlocked([this] { return bpf_object__load(obj_); });
  if (err) {
    err = -err;
    std::string name, log;
    if (!FailedProgram(&name, &log) || err == EPERM) throw BpfError("cannot load BPF programs: " + ErrnoText(err), err);
    if (options.verifier_stats) {
      size_t i = 0;
      bpf_object__for_each_program(prog, obj_) {
        if (!bpf_program__autoload(prog)) continue;
        if (i < verifier_logs_.size() && name == bpf_program__name(prog)) log = verifier_logs_[i].data();
        i++;
      }
    }
    throw BpfError("the kernel's verifier refused program " + name + ": " + RefusalReason(log), err);
  }
  if (options.verifier_stats) ReadVerifierStats();

  bpf_object__for_each_program(prog, obj_) {
    if (!bpf_program__autoload(prog)) continue;
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      err = errno;
      throw BpfError(std::string("cannot attach ") + bpf_program__section_name(prog) + ": " + ErrnoText(err),
                     err);
    }
    links_.push_back(link);
  }

  rb_ = ring_buffer__new(bpf_map__fd(events), &BpfSession::OnRecord, this, nullptr);
  if (!rb_) {
    err = errno;
    throw BpfError(std::string("cannot open the ring buffer: ") + strerror(err), err);
  }
  ncpus_ = libbpf_num_possible_cpus();
  if (ncpus_ < 1) ncpus_ = 1;
  // position pages: the consumer's at offset 0, the producer's one page on
  const long page = sysconf(_SC_PAGESIZE);
  void* consumer = mmap(nullptr, page, PROT_READ, MAP_SHARED, bpf_map__fd(events), 0);
  void* producer = mmap(nullptr, page, PROT_READ, MAP_SHARED, bpf_map__fd(events), page);
  if (consumer != MAP_FAILED) rb_consumer_ = static_cast<const volatile unsigned long*>(consumer);
  if (producer != MAP_FAILED) rb_producer_ = static_cast<const volatile unsigned long*>(producer);
}

uint64_t BpfSession::RingBufferUsed() const {
  if (!rb_consumer_ || !rb_producer_) return 0;
  const unsigned long consumed = __atomic_load_n(rb_consumer_, __ATOMIC_ACQUIRE);
  const unsigned long produced = __atomic_load_n(rb_producer_, __ATOMIC_ACQUIRE);
  return produced > consumed ? produced - consumed : 0;
}

// "stack depth 208+48" (one figure per frame: the program, then each function
// it calls) and "processed 7055 insns": a program's deepest chain is its own
// frame plus its deepest callee's, each rounded up to 32 bytes as the
// verifier counts them.
void BpfSession::ReadVerifierStats() {
  size_t i = 0;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    if (!bpf_program__autoload(prog) || i >= verifier_logs_.size()) continue;
    const std::string log(verifier_logs_[i++].data());
    int stack = -1, insns = -1;
    size_t at = log.find("stack depth ");
    if (at != std::string::npos) {
      const char* p = log.c_str() + at + 12;
      int own = -1, deepest_callee = 0;
      for (;;) {
        char* end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        int rounded = static_cast<int>((std::max(v, 1L) + 31) / 32 * 32);
        if (own < 0) own = rounded;
        else deepest_callee = std::max(deepest_callee, rounded);
        p = end;
        if (*p != '+') break;
        p++;
      }
      if (own >= 0) stack = own + deepest_callee;
    }
    at = log.find("processed ");
    if (at != std::string::npos) insns = atoi(log.c_str() + at + 10);
    verifier_stats_.push_back({bpf_program__name(prog), {stack, insns}});
  }
  verifier_logs_.clear();
}

BpfSession::~BpfSession() { Close(); }

void BpfSession::Close() {
  const long page = sysconf(_SC_PAGESIZE);
  if (rb_consumer_) munmap(const_cast<unsigned long*>(rb_consumer_), page);
  if (rb_producer_) munmap(const_cast<unsigned long*>(rb_producer_), page);
  rb_consumer_ = rb_producer_ = nullptr;
  if (rb_) ring_buffer__free(rb_);
  rb_ = nullptr;
  Detach();
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
  absent_.clear();
  unhooked_.clear();
}

void BpfSession::ChooseHooks(const SessionOptions& options, SyscallHooks hooks) {
  syscalls_ = hooks;
  if (syscalls_ == SyscallHooks::kExact) {
    trampolines_ = false;
    backend_note_ = "--syscalls exact hooks every syscall (sys_enter/sys_exit)";
  }
  std::string dir;
  if (syscalls_ == SyscallHooks::kLean && !trampolines_) {
    std::string why;
    dir = TracingDir(&why);
    if (dir.empty()) {
      if (exact_refused_) throw BpfError(why, ENOENT);
      syscalls_ = SyscallHooks::kExact;
      warnings_.push_back(why + "; hooking every syscall instead (as --syscalls exact)");
    }
  }
  const bool lean = syscalls_ == SyscallHooks::kLean;
  const bool tramp = lean && trampolines_;
  // exact mode's sys_enter/sys_exit and the trampolines' shared kernel functions see 32-bit syscalls themselves
  sees_compat_ = kernel_.ia32 && (!lean || tramp || options.compat_hooks);
  const std::string tp = "tp/syscalls/";
  const std::string uring = "tp_btf/io_uring_";
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    const std::string sec = bpf_program__section_name(prog);
    const std::string name = bpf_program__name(prog);
    bool load = true;
    if (StartsWith(sec, "fentry/") || StartsWith(sec, "fexit/")) {
      // trampolines: on the functions this kernel has (its BTF says), the 32-bit entry points where int 0x80 works
      const std::string func = sec.substr(sec.find('/') + 1);
      const bool ia32 = StartsWith(func, "__ia32_");
      load = tramp && (!ia32 || kernel_.ia32) && KernelHasFunction(func);
      if (tramp && !ia32 && !load && std::find(unhooked_.begin(), unhooked_.end(), func) == unhooked_.end())
        unhooked_.push_back(func);
    } else if (name == "lean_compat_enter" || name == "lean_compat_exit") {
      load = lean && !tramp && sees_compat_;
    } else if (sec == "tp_btf/sys_enter" || sec == "tp_btf/sys_exit") {
      load = !lean;
    } else if (sec.compare(0, tp.size(), tp) == 0) {
      const std::string event = sec.substr(tp.size());
      load = lean && !tramp && Exists(dir + "/events/syscalls/" + event);
      if (lean && !tramp && !load && event.compare(0, 10, "sys_enter_") == 0) absent_.push_back(event.substr(10));
    } else if (sec.compare(0, uring.size(), uring) == 0) {
      // io_uring requests, in every mode, where this kernel's tracepoints carry them (coverage names the gap)
      static std::mutex uring_mu;
      static std::map<std::string, bool> uring_loads;
      std::lock_guard<std::mutex> lock(uring_mu);
      auto known = uring_loads.find(sec);
      if (known == uring_loads.end()) known = uring_loads.emplace(sec, UringHookLoads(VmlinuxBtf(), sec.substr(7))).first;
      load = known->second;
    }
    bpf_program__set_autoload(prog, load);
  }
}

void BpfSession::Detach() {
  std::lock_guard<std::mutex> lock(links_mu_);
  DestroyLinks(links_);
}

namespace {

// In the hand-off child (a fork of a threaded process: async-signal-safe calls only).
bool StartsWithRaw(const char* s, const char* prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return false;
  return true;
}

// Keeps the fds that hold probes (perf events, BPF links), stops the events,
// closes everything else (the terminal included), then lets the kernel
// release the probes one by one.
// Calls fn(fd, is_perf) for each perf event and BPF link fd of this process,
// then closes every other fd when close_others (async-signal-safe).
template <typename F>
void ForEachProbeFd(bool close_others, F&& fn) {
  struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
  };
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof(buf));
    if (n <= 0) break;
    for (long at = 0; at < n;) {
      auto* d = reinterpret_cast<linux_dirent64*>(buf + at);
      at += d->d_reclen;
      int fd = 0;
      const char* c = d->d_name;
      if (*c < '0' || *c > '9') continue;
      for (; *c >= '0' && *c <= '9'; c++) fd = fd * 10 + (*c - '0');
      if (fd == dir) continue;
      char path[64] = "/proc/self/fd/", target[64] = {};
      size_t len = strlen(path);
      memcpy(path + len, d->d_name, strlen(d->d_name) + 1);
      ssize_t t = readlink(path, target, sizeof(target) - 1);
      const bool perf = t > 0 && StartsWithRaw(target, "anon_inode:[perf_event]");
      const bool link = t > 0 && StartsWithRaw(target, "anon_inode:bpf_link");
      if (perf || link) fn(fd, perf);
      else if (close_others) close(fd);
    }
  }
  close(dir);
}

// In the hand-off grandchild: once the parent has let go of its copies (EOF on
// `go`), disable and release the probes; each release waits out a grace period,
// which nobody waits for here.
[[noreturn]] void ReleaseProbesAndExit(int go) {
  setsid();
  char c;
  while (read(go, &c, 1) < 0 && errno == EINTR) {
  }
  int keep[4096];
  int kept = 0;
  ForEachProbeFd(true, [&](int fd, bool perf) {
    if (kept >= 4096) return;
    if (perf) ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);  // no program runs from here on
    keep[kept++] = fd;
  });
  for (int i = 0; i < kept; i++) close(keep[i]);
  _exit(0);
}

}  // namespace

void BpfSession::HandOff() {
  std::lock_guard<std::mutex> lock(links_mu_);
  if (links_.empty()) return;
  // Whoever closes a probe's last fd waits out its grace period: the grandchild
  // must be last. It waits on a pipe until this process has closed its copies.
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0) {
    DestroyLinks(links_);
    return;
  }
  // Two forks: the grandchild does the work and is nobody's to reap.
  pid_t child = fork();
  if (child == 0) {
    close(go[1]);
    if (fork() == 0) ReleaseProbesAndExit(go[0]);
    _exit(0);
  }
  close(go[0]);
  if (child < 0) {
    close(go[1]);
    DestroyLinks(links_);
    return;
  }
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // The grandchild holds the probes now: forget ours without detaching them,
  // and close our fds of them (not the last: cheap), then let it go on.
  for (bpf_link* link : links_) {
    bpf_link__disconnect(link);
    bpf_link__destroy(link);
  }
  links_.clear();
  ForEachProbeFd(false, [](int fd, bool) { close(fd); });
  close(go[1]);
}

int BpfSession::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<BpfSession*>(ctx);
  if (self->sink_) self->sink_(data, size);
  return 0;
}

int BpfSession::EpollFd() const { return rb_ ? ring_buffer__epoll_fd(rb_) : -1; }

int BpfSession::Consume() { return rb_ ? ring_buffer__consume(rb_) : 0; }

void BpfSession::AddTarget(uint32_t tgid, uint64_t start_ticks, uint32_t root_tgid) {
  target value = {};
  value.start_ticks = start_ticks;
  value.root_tgid = root_tgid;
  int err = bpf_map__update_elem(targets_, &tgid, sizeof(tgid), &value, sizeof(value), BPF_ANY);
  if (err)
    throw BpfError("cannot add pid " + std::to_string(tgid) + " to the target set: " +
                       strerror(-err),
                   -err);
}

void BpfSession::ClearTargets() {
  for (uint32_t tgid : Targets()) bpf_map__delete_elem(targets_, &tgid, sizeof(tgid), 0);
}

void BpfSession::RemoveTarget(uint32_t tgid) {
  int err = bpf_map__delete_elem(targets_, &tgid, sizeof(tgid), 0);
  if (err && err != -ENOENT)
    throw BpfError("cannot remove pid " + std::to_string(tgid) + ": " + strerror(-err), -err);
}

bool BpfSession::HasTarget(uint32_t tgid) const {
  target value;
  return bpf_map__lookup_elem(targets_, &tgid, sizeof(tgid), &value, sizeof(value), 0) == 0;
}

std::vector<uint32_t> BpfSession::Targets() const {
  std::vector<uint32_t> out;
  uint32_t key, next;
  const void* prev = nullptr;
  while (bpf_map__get_next_key(targets_, prev, &next, sizeof(next)) == 0) {
    out.push_back(next);
    key = next;
    prev = &key;
  }
  return out;
}

static std::vector<uint64_t> SumPerCpu(const bpf_map* map, uint32_t entries, int ncpus) {
  std::vector<uint64_t> out(entries, 0);
  std::vector<uint64_t> values(ncpus);
  for (uint32_t key = 0; key < entries; key++) {
    if (bpf_map__lookup_elem(map, &key, sizeof(key), values.data(),
                             values.size() * sizeof(uint64_t), 0))
      continue;
    for (uint64_t v : values) out[key] += v;
  }
  return out;
}

std::vector<uint64_t> BpfSession::Drops() const { return SumPerCpu(drops_, EV_TYPE_MAX, ncpus_); }

std::vector<uint64_t> BpfSession::SyscallCounts() const {
  return SumPerCpu(syscall_counts_, WS_MAX_SYSCALLS, ncpus_);
}

std::vector<ProgramInfo> BpfSession::Programs() const {
  std::vector<ProgramInfo> out;
  if (!obj_) return out;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    int fd = bpf_program__fd(prog);
    if (fd < 0) continue;
    bpf_prog_info info = {};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len)) continue;
    ProgramInfo p{bpf_program__name(prog), info.id, 0, -1, -1};
    for (const auto& stats : verifier_stats_)
      if (stats.first == p.name) std::tie(p.stack_bytes, p.insns_processed) = stats.second;
    out.push_back(p);
  }
  std::lock_guard<std::mutex> lock(links_mu_);
  for (bpf_link* link : links_) {
    bpf_link_info info = {};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len)) continue;
    for (ProgramInfo& p : out)
      if (p.prog_id == info.prog_id) p.link_id = info.id;
  }
  return out;
}

}  // namespace wasmshark
