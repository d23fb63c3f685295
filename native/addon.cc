// The only file that touches N-API: exposes BpfSession and Poller to JS as
// `Session`. Records cross into JS one Buffer per batch; decoding happens in
// TypeScript.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <bpf/libbpf.h>

#include "bpf_session.h"
#include "poller.h"
#include "unix_dgram.h"

// What scripts/build-deps.sh built and this addon links (absent: system libraries).
#if __has_include("wasmshark_deps.h")
#include "wasmshark_deps.h"
#else
#define WASMSHARK_DEPS "libbpf and libelf from the system (dynamically linked)"
#endif

namespace wasmshark {
namespace {

constexpr size_t kBatchBytes = 256 * 1024;
// Batches waiting for the JS thread; beyond this the polling thread blocks and
// the ring buffer absorbs the burst (overflow is counted in the kernel).
constexpr size_t kMaxQueuedBatches = 64;

const char* LevelName(int level) {
  switch (level) {
    case 0: return "warn";
    case 1: return "info";
    default: return "debug";
  }
}

Napi::Error ToJsError(Napi::Env env, const BpfError& e) {
  Napi::Error error = Napi::Error::New(env, e.what());
  error.Set("errno", Napi::Number::New(env, e.err()));
  const char* name = strerrorname_np(e.err());
  if (name) error.Set("code", Napi::String::New(env, name));
  return error;
}

uint32_t PidArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), "pid must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 1 && v <= 4194304) || v != static_cast<uint32_t>(v))
    throw Napi::RangeError::New(info.Env(), "pid must be an integer between 1 and 4194304");
  return static_cast<uint32_t>(v);
}

Napi::Array ToArray(Napi::Env env, const std::vector<uint64_t>& values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (uint32_t i = 0; i < values.size(); i++)
    out.Set(i, Napi::Number::New(env, static_cast<double>(values[i])));
  return out;
}

class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Session",
                       {
                           InstanceMethod<&Session::Start>("start"),
                           InstanceMethod<&Session::Stop>("stop"),
                           InstanceMethod<&Session::AddTarget>("addTarget"),
                           InstanceMethod<&Session::RemoveTarget>("removeTarget"),
                           InstanceMethod<&Session::HasTarget>("hasTarget"),
                           InstanceMethod<&Session::Targets>("targets"),
                           InstanceMethod<&Session::Drops>("drops"),
                           InstanceMethod<&Session::SyscallCounts>("syscallCounts"),
                           InstanceMethod<&Session::Programs>("programs"),
                           InstanceMethod<&Session::Hooks>("hooks"),
                           InstanceMethod<&Session::RingBufferUsed>("ringBufferUsed"),
                       });
  }

  // new Session({ objectPath, legacyObjectPath?, syscalls?: 'lean' | 'exact', backend?: 'trampoline' | 'tracepoint',
  //               countSyscalls?,
  //               followChildren?, watchExecs?, ringbufBytes?, compatHooks?, verifierStats?, log?, debug? })
  explicit Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject())
      throw Napi::TypeError::New(env, "Session expects an options object");
    Napi::Object opts = info[0].As<Napi::Object>();
    if (opts.Get("log").IsFunction()) log_ = Napi::Persistent(opts.Get("log").As<Napi::Function>());

    SessionOptions options;
    Napi::Value path = opts.Get("objectPath");
    if (!path.IsString()) throw Napi::TypeError::New(env, "objectPath must be a string");
    options.object_path = path.As<Napi::String>().Utf8Value();
    if (opts.Get("legacyObjectPath").IsString())
      options.legacy_object_path = opts.Get("legacyObjectPath").As<Napi::String>().Utf8Value();
    if (opts.Has("compatHooks")) options.compat_hooks = opts.Get("compatHooks").ToBoolean();
    options.verifier_stats = opts.Get("verifierStats").ToBoolean();
    Napi::Value syscalls = opts.Get("syscalls");
    if (syscalls.IsString()) {
      std::string mode = syscalls.As<Napi::String>().Utf8Value();
      if (mode != "lean" && mode != "exact") throw Napi::TypeError::New(env, "syscalls must be 'lean' or 'exact'");
      options.syscalls = mode == "lean" ? SyscallHooks::kLean : SyscallHooks::kExact;
    }
    Napi::Value backend = opts.Get("backend");
    if (backend.IsString()) {
      std::string b = backend.As<Napi::String>().Utf8Value();
      if (b != "auto" && b != "trampoline" && b != "tracepoint")
        throw Napi::TypeError::New(env, "backend must be 'trampoline' or 'tracepoint'");
      options.backend = b == "trampoline" ? Backend::kTrampoline : b == "tracepoint" ? Backend::kTracepoint : Backend::kAuto;
    }
    options.count_syscalls = opts.Get("countSyscalls").ToBoolean();
    options.watch_execs = opts.Get("watchExecs").ToBoolean();
    if (opts.Has("followChildren")) options.follow_children = opts.Get("followChildren").ToBoolean();
    if (opts.Has("captureStacks")) options.capture_stacks = opts.Get("captureStacks").ToBoolean();
    if (opts.Get("ringbufBytes").IsNumber())
      options.ringbuf_bytes = opts.Get("ringbufBytes").As<Napi::Number>().Uint32Value();

    CaptureLibbpfLog(opts.Get("debug").ToBoolean());
    try {
      session_ = std::make_unique<BpfSession>(options);
    } catch (const BpfError& e) {
      Napi::Error error = ToJsError(env, e);
      std::vector<LogLine> lines = TakeLibbpfLog();
      // The last warnings usually say why (a verifier message, a missing type).
      std::string details;
      for (const LogLine& line : lines)
        if (line.level == 0) details += line.text + "\n";
      if (!details.empty()) error.Set("details", Napi::String::New(env, details));
      DeliverLog(env, lines);
      throw error;
    }
    DeliverLog(env, TakeLibbpfLog());
  }

  ~Session() override {
    // Only reachable when not started or already finished: a started session
    // holds a reference to itself until its thread has been joined.
    poller_.reset();
    session_.reset();
  }

 private:
  enum class State { kLoaded, kRunning, kStopping, kStopped };

  struct Finished {
    Session* self;
    int err;
  };

  void DeliverLog(Napi::Env env, const std::vector<LogLine>& lines) {
    if (log_.IsEmpty()) return;
    for (const LogLine& line : lines)
      log_.Call({Napi::String::New(env, LevelName(line.level)), Napi::String::New(env, line.text)});
  }

  Session& Live(const Napi::CallbackInfo& info) {
    if (!session_) throw Napi::Error::New(info.Env(), "session is stopped");
    return *this;
  }

  // start(onBatch(buffer), onError(err)): begin draining on a thread of our own.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(info);
    if (state_ != State::kLoaded) throw Napi::Error::New(env, "session already started");
    if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "start(onBatch, onError, onDrained?) expects functions");
    on_error_ = Napi::Persistent(info[1].As<Napi::Function>());
    if (info.Length() > 2 && info[2].IsFunction()) on_drained_ = Napi::Persistent(info[2].As<Napi::Function>());

    tsfn_ = Napi::ThreadSafeFunction::New(
        env, info[0].As<Napi::Function>(), "wasmshark-ringbuf", kMaxQueuedBatches, 1, this,
        [](Napi::Env env, Session* self) { self->Finish(env); });
    poller_ = std::make_unique<Poller>(
        *session_, kBatchBytes,
        [this](Batch* batch) {
          if (!batch) {  // stopping: the targets' records are all delivered
            tsfn_.BlockingCall(this, &Session::CallOnDrained);
            return;
          }
          napi_status status = tsfn_.BlockingCall(batch, &Session::CallOnBatch);
          if (status != napi_ok) Batch::Release(batch);
        },
        [this](int err) {
          if (err) tsfn_.BlockingCall(new Finished{this, err}, &Session::CallOnError);
          tsfn_.Release();
        });
    Ref();  // stay alive until the thread is joined
    state_ = State::kRunning;
    poller_->Start();
    return env.Undefined();
  }

  static void CallOnBatch(Napi::Env env, Napi::Function on_batch, Batch* batch) {
    if (env == nullptr) {  // tearing down
      Batch::Release(batch);
      return;
    }

    // Tell V8 what the Buffer holds, so it collects spent batches promptly.
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(Batch::kCapacity));
    Napi::Buffer<uint8_t> buffer = Napi::Buffer<uint8_t>::New(
        env, batch->data(), batch->size(),
        [](Napi::Env env, uint8_t*, Batch* b) {
          Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(Batch::kCapacity));
          Batch::Release(b);
        },
        batch);
    try {
      on_batch.Call({buffer});
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
    }
  }

  static void CallOnDrained(Napi::Env env, Napi::Function, Session* self) {
    if (env == nullptr || self->on_drained_.IsEmpty()) return;
    self->on_drained_.Call({});
  }

  static void CallOnError(Napi::Env env, Napi::Function, Finished* finished) {
    std::unique_ptr<Finished> f(finished);
    if (env == nullptr || f->self->on_error_.IsEmpty()) return;
    Napi::Error error = ToJsError(env, BpfError(std::string("ring buffer polling failed: ") +
                                                    strerror(f->err),
                                                f->err));
    f->self->on_error_.Call({error.Value()});
  }

  // Runs on the JS thread once the polling thread has released the TSFN.
  void Finish(Napi::Env env) {
    if (poller_) {
      poller_->Join();
      lost_ = poller_->Lost();
    }
    poller_.reset();
    Unload();
    state_ = State::kStopped;
    DeliverLog(env, TakeLibbpfLog());
    for (Napi::Promise::Deferred& d : pending_stops_) d.Resolve(env.Undefined());
    pending_stops_.clear();
    on_error_.Reset();
    on_drained_.Reset();
    Unref();
  }

  // The counters stay readable after the session is gone: they are final then.
  void Unload() {
    if (!session_) return;
    final_drops_ = session_->Drops();
    final_syscalls_ = session_->SyscallCounts();
    session_.reset();
  }

  // stop(handOff = false): detach everything, deliver what is still in the
  // ring buffer, then resolve. handOff: the caller exits right after, so the
  // detach is left to a child process. Safe to call more than once.
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const bool hand_off = info.Length() > 0 && info[0].ToBoolean();
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    switch (state_) {
      case State::kLoaded:
        Unload();
        state_ = State::kStopped;
        DeliverLog(env, TakeLibbpfLog());
        deferred.Resolve(env.Undefined());
        break;
      case State::kRunning:
        state_ = State::kStopping;
        pending_stops_.push_back(deferred);
        poller_->RequestStop(hand_off);
        break;
      case State::kStopping:
        pending_stops_.push_back(deferred);
        break;
      case State::kStopped:
        deferred.Resolve(env.Undefined());
        break;
    }
    return deferred.Promise();
  }

  // addTarget(pid, startTicks, rootPid = pid)
  Napi::Value AddTarget(const Napi::CallbackInfo& info) {
    Live(info);
    uint32_t pid = PidArg(info, 0);
    if (info.Length() < 2 || !info[1].IsNumber())
      throw Napi::TypeError::New(info.Env(), "startTicks must be a number");
    auto ticks = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
    uint32_t root = info.Length() > 2 && !info[2].IsUndefined() ? PidArg(info, 2) : pid;
    try {
      session_->AddTarget(pid, ticks, root);
    } catch (const BpfError& e) {
      throw ToJsError(info.Env(), e);
    }
    return info.Env().Undefined();
  }

  Napi::Value RemoveTarget(const Napi::CallbackInfo& info) {
    Live(info);
    try {
      session_->RemoveTarget(PidArg(info, 0));
    } catch (const BpfError& e) {
      throw ToJsError(info.Env(), e);
    }
    return info.Env().Undefined();
  }

  Napi::Value HasTarget(const Napi::CallbackInfo& info) {
    Live(info);
    return Napi::Boolean::New(info.Env(), session_->HasTarget(PidArg(info, 0)));
  }

  Napi::Value Targets(const Napi::CallbackInfo& info) {
    Live(info);
    std::vector<uint32_t> pids = session_->Targets();
    Napi::Array out = Napi::Array::New(info.Env(), pids.size());
    for (uint32_t i = 0; i < pids.size(); i++) out.Set(i, Napi::Number::New(info.Env(), pids[i]));
    return out;
  }

  // Kernel drops by event type, then one more: records the poll thread could not copy out.
  Napi::Value Drops(const Napi::CallbackInfo& info) {
    std::vector<uint64_t> drops = session_ ? session_->Drops() : final_drops_;
    drops.push_back(poller_ ? poller_->Lost() : lost_);
    return ToArray(info.Env(), drops);
  }

  Napi::Value SyscallCounts(const Napi::CallbackInfo& info) {
    return ToArray(info.Env(), session_ ? session_->SyscallCounts() : final_syscalls_);
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(info);
    std::vector<ProgramInfo> progs = session_->Programs();
    Napi::Array out = Napi::Array::New(env, progs.size());
    for (uint32_t i = 0; i < progs.size(); i++) {
      Napi::Object p = Napi::Object::New(env);
      p.Set("name", progs[i].name);
      p.Set("progId", progs[i].prog_id);
      p.Set("linkId", progs[i].link_id);
      if (progs[i].stack_bytes >= 0) p.Set("stackBytes", progs[i].stack_bytes);
      if (progs[i].insns_processed >= 0) p.Set("insnsProcessed", progs[i].insns_processed);
      out.Set(i, p);
    }
    return out;
  }

  // Bytes in the ring buffer not yet read: 0 once stopped.
  Napi::Value RingBufferUsed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const bool live = session_ && (state_ == State::kLoaded || state_ == State::kRunning);
    return Napi::Number::New(env, live ? static_cast<double>(session_->RingBufferUsed()) : 0);
  }

  // { syscalls: 'lean' | 'exact', backend: 'trampoline' | 'tracepoint' | 'raw-syscalls', backendNote: string,
  //   unhooked: string[], warnings: string[], absent: string[], object: 'full' | 'legacy',
  //   kernel: string, compat: boolean, ia32: boolean }: fixed at load.
  Napi::Value Hooks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(info);
    auto strings = [&](const std::vector<std::string>& v) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (uint32_t i = 0; i < v.size(); i++) a.Set(i, v[i]);
      return a;
    };
    Napi::Object out = Napi::Object::New(env);
    const bool lean = session_->syscalls() == SyscallHooks::kLean;
    out.Set("syscalls", lean ? "lean" : "exact");
    out.Set("backend", !lean ? "raw-syscalls" : session_->trampolines() ? "trampoline" : "tracepoint");
    out.Set("backendNote", session_->backend_note());
    out.Set("unhooked", strings(session_->unhooked()));
    out.Set("warnings", strings(session_->warnings()));
    out.Set("absent", strings(session_->absent()));
    out.Set("object", session_->legacy() ? "legacy" : "full");
    out.Set("kernel", session_->kernel().release);
    out.Set("ia32", session_->kernel().ia32);
    out.Set("compat", session_->sees_compat());
    return out;
  }

  std::unique_ptr<BpfSession> session_;
  std::unique_ptr<Poller> poller_;
  Napi::ThreadSafeFunction tsfn_;
  Napi::FunctionReference log_;
  Napi::FunctionReference on_error_;
  Napi::FunctionReference on_drained_;
  std::vector<Napi::Promise::Deferred> pending_stops_;
  std::vector<uint64_t> final_drops_;
  uint64_t lost_ = 0;
  std::vector<uint64_t> final_syscalls_;
  State state_ = State::kLoaded;
};

}  // namespace
}  // namespace wasmshark

// The syslog socket: openUnixDatagram() -> fd, sendUnixDatagram(fd, path, buffer) -> 0 or errno
// (a lost message is counted by the caller, not thrown), closeUnixDatagram(fd).
static Napi::Value OpenUnixDatagram(const Napi::CallbackInfo& info) {
  int fd = wasmshark::UnixDgramOpen();
  if (fd < 0) throw Napi::Error::New(info.Env(), std::string("cannot create a unix datagram socket: ") + strerror(-fd));
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Value SendUnixDatagram(const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsBuffer())
    throw Napi::TypeError::New(info.Env(), "sendUnixDatagram(fd, path, buffer)");
  Napi::Buffer<uint8_t> buf = info[2].As<Napi::Buffer<uint8_t>>();
  int rc = wasmshark::UnixDgramSend(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::String>().Utf8Value(), buf.Data(), buf.Length());
  return Napi::Number::New(info.Env(), -rc);
}

static Napi::Value CloseUnixDatagram(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsNumber()) wasmshark::UnixDgramClose(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("openUnixDatagram", Napi::Function::New(env, OpenUnixDatagram));
  exports.Set("sendUnixDatagram", Napi::Function::New(env, SendUnixDatagram));
  exports.Set("closeUnixDatagram", Napi::Function::New(env, CloseUnixDatagram));
  exports.Set("Session", wasmshark::Session::Define(env));
  Napi::Object build = Napi::Object::New(env);
  build.Set("libbpf", libbpf_version_string());
  build.Set("deps", WASMSHARK_DEPS);
  exports.Set("build", build);
  return exports;
}

NODE_API_MODULE(wasmshark, InitAddon)
