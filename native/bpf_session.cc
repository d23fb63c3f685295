#include "bpf_session.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <thread>

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
static_assert(sizeof(target) == 104, "target layout changed: update the loader");

namespace wasmshark {
namespace {

std::mutex log_mu;
std::vector<LogLine> log_lines;
bool log_debug = false;

int OnLibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !log_debug) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n < 0) return n;
  std::string text(buf, static_cast<size_t>(n) < sizeof(buf) ? n : sizeof(buf) - 1);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::lock_guard<std::mutex> lock(log_mu);
  // Bound the buffer: a verifier log can run to megabytes.
  if (log_lines.size() < 4096) log_lines.push_back({static_cast<int>(level), std::move(text)});
  return n;
}

std::string ErrnoText(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return std::string(strerror(err)) + " (run as root, or grant CAP_BPF and CAP_PERFMON)";
    default:
      return strerror(err);
  }
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

BpfSession::BpfSession(const SessionOptions& options) {
  int err;
  try {
    obj_ = bpf_object__open_file(options.object_path.c_str(), nullptr);
    if (!obj_) {
      err = errno;
      throw BpfError("cannot open BPF object " + options.object_path + ": " + strerror(err), err);
    }

    // Configuration: .rodata globals and map sizes, fixed between open and load.
    ChooseHooks(options);
    SetRodataBool(obj_, "follow_children", options.follow_children);
    SetRodataBool(obj_, "count_syscalls", options.count_syscalls && syscalls_ == SyscallHooks::kExact);
    SetRodataBool(obj_, "watch_execs", options.watch_execs);
    // An eighth of the buffer is kept for the first event of each kind per process.
    SetRodataU32(obj_, "headroom", options.ringbuf_bytes / 8);
    SetRodataU32(obj_, "wakeup_bytes", std::min<uint32_t>(64u << 10, options.ringbuf_bytes / 4));
    bpf_map* events = bpf_object__find_map_by_name(obj_, "events");
    targets_ = bpf_object__find_map_by_name(obj_, "targets");
    drops_ = bpf_object__find_map_by_name(obj_, "drops");
    syscall_counts_ = bpf_object__find_map_by_name(obj_, "syscall_counts");
    if (!events || !targets_ || !drops_ || !syscall_counts_)
      throw BpfError("BPF object " + options.object_path + " lacks the wasmshark maps", EINVAL);
    if ((err = bpf_map__set_max_entries(events, options.ringbuf_bytes)))
      throw BpfError("invalid ring buffer size " + std::to_string(options.ringbuf_bytes), -err);

    if ((err = bpf_object__load(obj_))) {
      err = -err;
      throw BpfError("cannot load BPF programs: " + ErrnoText(err), err);
    }

    bpf_program* prog;
    bpf_object__for_each_program(prog, obj_) {
      if (!bpf_program__autoload(prog)) continue;
      bpf_link* link = bpf_program__attach(prog);
      if (!link) {
        err = errno;
        throw BpfError(std::string("cannot attach ") + bpf_program__section_name(prog) + ": " +
                           ErrnoText(err),
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
  } catch (...) {
    Close();
    throw;
  }
}

BpfSession::~BpfSession() { Close(); }

void BpfSession::Close() {
  if (rb_) ring_buffer__free(rb_);
  rb_ = nullptr;
  Detach();
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
}

void BpfSession::ChooseHooks(const SessionOptions& options) {
  syscalls_ = options.syscalls;
  std::string dir;
  if (syscalls_ == SyscallHooks::kLean) {
    std::string why;
    dir = TracingDir(&why);
    if (dir.empty()) {
      syscalls_ = SyscallHooks::kExact;
      warnings_.push_back(why + "; hooking every syscall instead (as --syscalls exact)");
    }
  }
  const bool lean = syscalls_ == SyscallHooks::kLean;
  const std::string tp = "tp/syscalls/";
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    const std::string sec = bpf_program__section_name(prog);
    bool load = true;
    if (sec == "tp_btf/sys_enter" || sec == "tp_btf/sys_exit") {
      load = !lean;
    } else if (sec.compare(0, tp.size(), tp) == 0) {
      const std::string event = sec.substr(tp.size());
      load = lean && Exists(dir + "/events/syscalls/" + event);
      if (lean && !load && event.compare(0, 10, "sys_enter_") == 0) absent_.push_back(event.substr(10));
    }
    bpf_program__set_autoload(prog, load);
  }
}

void BpfSession::Detach() {
  std::lock_guard<std::mutex> lock(links_mu_);
  DestroyLinks(links_);
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
    out.push_back({bpf_program__name(prog), info.id, 0});
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
