// probe-check: the addon's own loader (native/bpf_session.cc), linked
// statically with libbpf, loading the shipped BPF objects on whatever kernel
// runs it and checking what comes out of the ring buffer when real processes
// act. It runs where node does not: inside the kernel matrix's VMs (see
// scripts/kernels/matrix.js), and on the host for the same row.
//
//   probe-check --objects DIR --trigger PATH --mode trampoline|lean|exact [--no-compat]
//   probe-check --objects DIR --trigger PATH --bench [--rounds N] [--iterations N] [--repeat N]
//
// Modes: trampoline is the default choice (lean hooks on the trampolines where
// the kernel allows them, else on the tracepoints: the session line says which
// and why); lean forces the tracepoint backend; exact hooks sys_enter/sys_exit.
// Prints one JSON object a line: the session (kernel, hooks chosen, warnings),
// each program's verifier figures, then each case with ok and what was seen.
// Exits 0 when the session loaded (cases report their own failures), 1 when
// it did not.
//
// --bench: the cost of each backend, side by side in the same rounds: the
// trigger's mmap/munmap churn loop (ns per iteration, the fastest of --repeat
// runs) as a bystander and as a target, with no probes, with empty programs on bpftrace's four syscall
// tracepoints (DIR/floor-bpftrace.bpf.o), with the tracepoint backend and
// with the trampoline backend; the order rotates from round to round. One
// JSON line per measure, then the medians.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <linux/types.h>

#include "../../bpf/events.h"
#include "../../native/bpf_session.h"

using wasmshark::Backend;
using wasmshark::BpfError;
using wasmshark::BpfSession;
using wasmshark::SessionOptions;
using wasmshark::SyscallHooks;

namespace {

std::string Json(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string JsonList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); i++) out += (i ? "," : "") + Json(v[i]);
  return out + "]";
}

// /proc/PID/stat field 22: what the kernel checks a target's start against.
uint64_t StartTicks(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  const char* p = strrchr(buf, ')');
  if (!p) return 0;
  // field 3 follows ") "; stop at the start of field 22
  int field = 2;
  for (p++; *p && field < 22; p++)
    if (*p == ' ') field++;
  return strtoull(p, nullptr, 10);
}

struct Record {
  std::vector<unsigned char> bytes;
  const ev_hdr& hdr() const { return *reinterpret_cast<const ev_hdr*>(bytes.data()); }
  template <typename T>
  const T* as(uint16_t type) const {
    return hdr().type == type && bytes.size() >= sizeof(T) ? reinterpret_cast<const T*>(bytes.data()) : nullptr;
  }
};

std::vector<Record> records;

// Runs TRIGGER ARGS as a followed process from before its exec, waits for its
// exit record, and returns the records of it and its descendants.
std::vector<Record> Follow(BpfSession& session, const std::string& trigger, const std::vector<std::string>& args,
                           bool followed = true) {
  int gate[2];
  if (pipe(gate)) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(gate[1]);
    char go;
    if (read(gate[0], &go, 1) != 1) _exit(126);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> argv{const_cast<char*>(trigger.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(trigger.c_str(), argv.data());
    _exit(127);
  }
  close(gate[0]);
  if (followed) session.AddTarget(pid, StartTicks(pid), pid);
  if (write(gate[1], "g", 1) != 1) return {};
  close(gate[1]);
  int status;
  waitpid(pid, &status, 0);

  std::set<uint32_t> family{static_cast<uint32_t>(pid)};
  std::vector<Record> out;
  bool exited = !followed;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(followed ? 30 : 2);
  size_t next = records.size();
  while (!exited || std::chrono::steady_clock::now() < deadline) {
    session.Consume();
    for (; next < records.size(); next++) {
      const Record& r = records[next];
      if (!family.count(r.hdr().tgid)) continue;
      if (const ev_fork* f = r.as<ev_fork>(EV_FORK)) family.insert(f->child_tgid);
      if (r.hdr().type == EV_EXIT && r.hdr().tgid == static_cast<uint32_t>(pid)) exited = true;
      out.push_back(r);
    }
    if (exited && followed) break;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!exited) out.clear();
  return out;
}

struct Case {
  const char* name;
  std::vector<std::string> args;
  // returns "" when the records show what the case expects, else what is missing
  std::function<std::string(const std::vector<Record>&)> check;
  bool needs_ia32 = false;
};

template <typename T>
const T* Find(const std::vector<Record>& rs, uint16_t type, const std::function<bool(const T&)>& pred) {
  for (const Record& r : rs)
    if (const T* e = r.as<T>(type))
      if (pred(*e)) return e;
  return nullptr;
}

std::string Need(bool ok, const char* what) { return ok ? "" : what; }

// Runs TRIGGER churn N (followed or not) and returns the ns per iteration it printed, or -1.
double Churn(BpfSession* session, const std::string& trigger, long iterations, bool followed) {
  int out[2], gate[2];
  if (pipe(out) || pipe(gate)) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(gate[1]);
    close(out[0]);
    char go;
    if (read(gate[0], &go, 1) != 1) _exit(126);
    dup2(out[1], 1);
    std::string n = std::to_string(iterations);
    execl(trigger.c_str(), trigger.c_str(), "churn", n.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(gate[0]);
  close(out[1]);
  if (session && followed) session->AddTarget(pid, StartTicks(pid), pid);
  if (write(gate[1], "g", 1) != 1) return -1;
  close(gate[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof(buf))) > 0) text.append(buf, n);
  close(out[0]);
  int status;
  waitpid(pid, &status, 0);
  if (session) {
    session->Consume();
    session->RemoveTarget(pid);
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? atof(text.c_str()) : -1;
}

// Empty programs on bpftrace's four syscall tracepoints, attached; nullptr if they cannot be.
bpf_object* LoadFloor(const std::string& path, std::vector<bpf_link*>* links) {
  bpf_object* obj = bpf_object__open_file(path.c_str(), nullptr);
  if (!obj) return nullptr;
  if (bpf_object__load(obj)) {
    bpf_object__close(obj);
    return nullptr;
  }
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj) {
    bpf_link* link = bpf_program__attach(prog);
    if (link) links->push_back(link);
  }
  return obj;
}

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int Bench(const std::string& objects, const std::string& trigger, int rounds, long iterations, int repeat) {
  const std::vector<std::string> configs{"none", "floor-bpftrace", "tracepoint", "trampoline"};
  std::vector<std::vector<double>> bystander(configs.size()), target(configs.size());
  std::string chosen[4];
  for (int r = 0; r < rounds; r++) {
    for (size_t k = 0; k < configs.size(); k++) {
      const size_t c = (k + r) % configs.size();  // each configuration takes each place in turn
      std::unique_ptr<BpfSession> session;
      std::vector<bpf_link*> links;
      bpf_object* floor = nullptr;
      if (configs[c] == "floor-bpftrace") {
        floor = LoadFloor(objects + "/floor-bpftrace.bpf.o", &links);
        if (!floor) continue;
      } else if (configs[c] != "none") {
        SessionOptions options;
        options.object_path = objects + "/wasmshark.bpf.o";
        options.legacy_object_path = objects + "/wasmshark.legacy.bpf.o";
        options.backend = configs[c] == "trampoline" ? Backend::kTrampoline : Backend::kTracepoint;
        try {
          session = std::make_unique<BpfSession>(options);
        } catch (const BpfError& e) {
          chosen[c] = std::string("refused: ") + e.what();
          continue;
        }
        chosen[c] = session->trampolines() ? "trampoline" : "tracepoint";
        if (configs[c] == "trampoline" && !session->trampolines()) continue;  // refused here: nothing to measure
      }
      // the fastest of a few runs: what else the machine does can only add time
      double b = -1, t = -1;
      for (int i = 0; i < repeat; i++) {
        double x = Churn(session.get(), trigger, iterations, false);
        double y = Churn(session.get(), trigger, iterations, true);
        if (x > 0 && (b < 0 || x < b)) b = x;
        if (y > 0 && (t < 0 || y < t)) t = y;
      }
      if (b > 0) bystander[c].push_back(b);
      if (t > 0) target[c].push_back(t);
      printf("{\"event\":\"bench\",\"round\":%d,\"config\":%s,\"bystander_ns\":%.1f,\"target_ns\":%.1f}\n", r,
             Json(configs[c]).c_str(), b, t);
      fflush(stdout);
      for (bpf_link* l : links) bpf_link__destroy(l);
      if (floor) bpf_object__close(floor);
      session.reset();
    }
  }
  for (size_t c = 0; c < configs.size(); c++)
    printf("{\"event\":\"bench-median\",\"config\":%s,\"rounds\":%zu,\"bystander_ns\":%.1f,\"target_ns\":%.1f%s}\n",
           Json(configs[c]).c_str(), bystander[c].size(), Median(bystander[c]), Median(target[c]),
           chosen[c].empty() ? "" : (",\"loaded\":" + Json(chosen[c])).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string objects = ".", trigger = "./trigger", mode = "lean";
  bool compat = true, bench = false, stats = true;
  int rounds = 7, repeat = 3;
  long iterations = 30000;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--objects" && i + 1 < argc) objects = argv[++i];
    else if (a == "--bench") bench = true;
    else if (a == "--rounds" && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (a == "--iterations" && i + 1 < argc) iterations = atol(argv[++i]);
    else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, atoi(argv[++i]));
    else if (a == "--trigger" && i + 1 < argc) trigger = argv[++i];
    else if (a == "--mode" && i + 1 < argc) mode = argv[++i];
    else if (a == "--no-compat") compat = false;
    else if (a == "--no-stats") stats = false;
    else {
      fprintf(stderr,
              "usage: probe-check --objects DIR --trigger PATH --mode trampoline|lean|exact [--no-compat]\n"
              "       probe-check --objects DIR --trigger PATH --bench [--rounds N] [--iterations N] [--repeat N]\n");
      return 2;
    }
  }
  if (bench) return Bench(objects, trigger, rounds, iterations, repeat);

  wasmshark::CaptureLibbpfLog(false);
  SessionOptions options;
  options.object_path = objects + "/wasmshark.bpf.o";
  options.legacy_object_path = objects + "/wasmshark.legacy.bpf.o";
  options.syscalls = mode == "exact" ? SyscallHooks::kExact : SyscallHooks::kLean;
  // trampoline: the default choice, made by the loader's feature probe; lean: the tracepoints, forced
  options.backend = mode == "lean" ? Backend::kTracepoint : Backend::kAuto;
  options.count_syscalls = true;
  options.compat_hooks = compat;
  options.verifier_stats = stats;
  options.ringbuf_bytes = 4u << 20;

  auto started = std::chrono::steady_clock::now();
  std::unique_ptr<BpfSession> session;
  try {
    session = std::make_unique<BpfSession>(options);
  } catch (const BpfError& e) {
    // libbpf's own account, for whoever reads the VM's log
    for (const wasmshark::LogLine& line : wasmshark::TakeLibbpfLog()) fprintf(stderr, "%s\n", line.text.c_str());
    wasmshark::KernelFeatures k = wasmshark::ProbeKernel();
    printf("{\"event\":\"session\",\"kernel\":%s,\"asked\":%s,\"loaded\":false,\"error\":%s}\n", Json(k.release).c_str(),
           Json(mode).c_str(), Json(e.what()).c_str());
    return 1;
  }
  double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  // without the verifier's statistics libbpf keeps a refused program's log: for whoever reads the VM's output
  if (!stats)
    for (const wasmshark::LogLine& line : wasmshark::TakeLibbpfLog())
      if (line.level == 0) fprintf(stderr, "%s\n", line.text.c_str());
  const wasmshark::KernelFeatures& k = session->kernel();
  printf("{\"event\":\"session\",\"kernel\":%s,\"asked\":%s,\"loaded\":true,\"mode\":%s,\"object\":%s,"
         "\"ia32\":%s,\"compat\":%s,\"load_ms\":%.0f,\"warnings\":%s,\"absent\":%s,\"backend\":%s,"
         "\"backend_note\":%s,\"unhooked\":%s}\n",
         Json(k.release).c_str(), Json(mode).c_str(),
         session->syscalls() == SyscallHooks::kExact ? "\"exact\""
         : session->trampolines()                     ? "\"trampoline\""
                                                     : "\"lean\"",
         session->legacy() ? "\"legacy\"" : "\"full\"", k.ia32 ? "true" : "false",
         session->sees_compat() ? "true" : "false", load_ms, JsonList(session->warnings()).c_str(),
         JsonList(session->absent()).c_str(),
         session->syscalls() == SyscallHooks::kExact ? "\"raw-syscalls\""
         : session->trampolines()                     ? "\"trampoline\""
                                                     : "\"tracepoint\"",
         Json(session->backend_note()).c_str(), JsonList(session->unhooked()).c_str());
  for (const wasmshark::ProgramInfo& p : session->Programs())
    printf("{\"event\":\"program\",\"name\":%s,\"link\":%u,\"stack\":%d,\"insns\":%d}\n", Json(p.name).c_str(),
           p.link_id, p.stack_bytes, p.insns_processed);
  fflush(stdout);

  session->SetSink([](const void* data, size_t size) {
    records.push_back({std::vector<unsigned char>(static_cast<const unsigned char*>(data),
                                                  static_cast<const unsigned char*>(data) + size)});
  });

  const std::vector<Case> cases = {
      {"wx-mmap", {"wx", "1"},
       [](const std::vector<Record>& rs) {
         return Need(Find<ev_mem>(rs, EV_MMAP, [](const ev_mem& m) { return m.prot == 7 && m.result > 0; }),
                     "no W+X mmap record");
       }},
      {"rw-rx-mprotect", {"rw-rx"},
       [](const std::vector<Record>& rs) {
         return Need(Find<ev_mem>(rs, EV_MPROTECT,
                                  [](const ev_mem& m) { return m.prot == 5 && (m.old_flags & 7) == 3; }),
                     "no RW->RX mprotect record");
       }},
      {"exec-child", {"fork-exec"},
       [](const std::vector<Record>& rs) {
         const ev_fork* f = Find<ev_fork>(rs, EV_FORK, [](const ev_fork& f) { return !(f.flags & WS_FORK_THREAD); });
         if (!f) return std::string("no fork record");
         uint32_t child = f->child_tgid;
         return Need(Find<ev_exec>(rs, EV_EXEC,
                                   [child](const ev_exec& e) {
                                     return e.hdr.tgid == child && e.hdr.ret == 0 && strstr(e.image, "echo");
                                   }),
                     "no exec record of the child's /bin/echo");
       }},
      {"connect", {"connect", "127.0.0.1", "9001"},
       [](const std::vector<Record>& rs) {
         return Need(Find<ev_connect>(rs, EV_CONNECT,
                                      [](const ev_connect& c) {
                                        return c.family == 2 && c.port == 9001 && c.addr[0] == 127 && c.addr[3] == 1;
                                      }),
                     "no connect record to 127.0.0.1:9001");
       }},
      {"memfd-exec", {"memfd-exec"},
       [](const std::vector<Record>& rs) {
         if (!Find<ev_memfd>(rs, EV_MEMFD, [](const ev_memfd& m) { return strcmp(m.name, "wasmshark-payload") == 0; }))
           return std::string("no memfd_create record");
         return Need(Find<ev_exec>(rs, EV_EXEC, [](const ev_exec& e) { return (e.flags & WS_EXEC_AT) && e.hdr.ret == 0; }),
                     "no execveat record of the memfd");
       }},
      {"memfd-code", {"memfd-shellcode"},
       [](const std::vector<Record>& rs) {
         return Need(Find<ev_anon_syscall>(rs, EV_ANON_SYSCALL,
                                           [](const ev_anon_syscall& a) {
                                             return (a.flags & WS_SITE_MEMFD) && (a.file.flags & WS_FILE_MEMFD);
                                           }),
                     "no syscall-site record naming the memfd");
       }},
      {"shellcode-syscall", {"shellcode"},
       [](const std::vector<Record>& rs) {
         return Need(Find<ev_anon_syscall>(rs, EV_ANON_SYSCALL, [](const ev_anon_syscall& a) { return a.nr == 10; }),
                     "no syscall from anonymous memory");
       }},
      {"sensitive-open", {"read-file", "/etc/shadow"},
       [](const std::vector<Record>& rs) {
         return Need(Find<ev_open>(rs, EV_OPEN, [](const ev_open& o) { return strcmp(o.file.path, "/etc/shadow") == 0; }),
                     "no open record with the path /etc/shadow");
       }},
      {"int80-memory", {"int80-wx"},
       [](const std::vector<Record>& rs) {
         if (!Find<ev_syscall>(rs, EV_SYSCALL, [](const ev_syscall& s) { return (s.flags & WS_SYSCALL_COMPAT) != 0; }))
           return std::string("no 32-bit ABI record");
         if (!Find<ev_mem>(rs, EV_MMAP, [](const ev_mem& m) { return m.prot == 7 && m.result > 0; }))
           return std::string("no W+X mmap2 record");
         return Need(Find<ev_mem>(rs, EV_MPROTECT, [](const ev_mem& m) { return m.prot == 5; }),
                     "no RW->RX mprotect record");
       },
       true},
  };

  for (const Case& c : cases) {
    if (c.needs_ia32 && !k.ia32) {
      printf("{\"event\":\"case\",\"name\":%s,\"ok\":null,\"why\":\"int 0x80 is no syscall on this kernel\"}\n",
             Json(c.name).c_str());
      continue;
    }
    std::vector<Record> rs = Follow(*session, trigger, c.args);
    std::string missing = rs.empty() ? "the process's exit was never reported" : c.check(rs);
    printf("{\"event\":\"case\",\"name\":%s,\"ok\":%s,\"records\":%zu%s}\n", Json(c.name).c_str(),
           missing.empty() ? "true" : "false", rs.size(), missing.empty() ? "" : (",\"why\":" + Json(missing)).c_str());
    fflush(stdout);
  }
  // a bystander doing the same as a target: nothing of it may come out
  std::vector<Record> bystander = Follow(*session, trigger, {"wx", "1"}, false);
  printf("{\"event\":\"case\",\"name\":\"bystander\",\"ok\":%s,\"records\":%zu}\n", bystander.empty() ? "true" : "false",
         bystander.size());
  uint64_t dropped = 0;
  for (uint64_t d : session->Drops()) dropped += d;
  if (!session->trampolines()) {
    printf("{\"event\":\"end\",\"drops\":%llu}\n", static_cast<unsigned long long>(dropped));
    session->Detach();
    return 0;
  }
  // Trampolines: the CLI's exit path, in a child standing for the CLI: it
  // hands its links to a short-lived grandchild (BpfSession::HandOff) and
  // exits. This process closes its own copies, then waits for the kernel to
  // have released every link.
  std::vector<uint32_t> link_ids;
  for (const wasmshark::ProgramInfo& p : session->Programs())
    if (p.link_id) link_ids.push_back(p.link_id);
  auto t0 = std::chrono::steady_clock::now();
  pid_t cli = fork();
  if (cli == 0) {
    session->HandOff();
    _exit(0);
  }
  int status;
  if (cli > 0) waitpid(cli, &status, 0);
  double handoff_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  session.reset();
  size_t left = link_ids.size();
  while (left > 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60)) {
    left = 0;
    for (uint32_t id : link_ids) {
      int fd = bpf_link_get_fd_by_id(id);
      if (fd >= 0) {
        left++;
        close(fd);
      }
    }
    if (left) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  double released_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  printf("{\"event\":\"end\",\"drops\":%llu,\"links\":%zu,\"handoff_ms\":%.0f,\"released_ms\":%.0f,\"links_left\":%zu}\n",
         static_cast<unsigned long long>(dropped), link_ids.size(), handoff_ms, released_ms, left);
  return 0;
}
