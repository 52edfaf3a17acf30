// NativeRope: one rope's handle (geometry, pairSection, the cos/sin cache, prepared steps) and its
// calls, apply, applyAsync and prepareStep. Unpacks typed arrays, re-checks every number and bound
// (anything may call this directly), then hands raw pointers to the walk. Errors are JS exceptions
// thrown before any write; a sync call allocates nothing but the cos/sin cache's growth
// (cossin_cache.h: a table per new invFreq/ISA, row chunks for new positions), an async call also
// its worker and an invFreq copy.
#include "binding/native_rope.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "abi.h"
#include "binding/args.h"
#include "binding/async.h"
#include "binding/cache_args.h"
#include "binding/call_args.h"
#include "binding/own_desc.h"
#include "binding/step.h"
#include "bounds.h"
#include "cossin_cache.h"
#include "dispatch.h"
#include "rope.h"
#include "threadpool.h"
#include "walk.h"

namespace rope {
namespace binding {
namespace {

class NativeRope : public Napi::ObjectWrap<NativeRope> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeRope", {InstanceMethod<&NativeRope::Apply>("apply"),
                                           InstanceMethod<&NativeRope::ApplyCache>("applyCache"),
                                           InstanceMethod<&NativeRope::ApplyAsync>("applyAsync"),
                                           InstanceMethod<&NativeRope::PrepareStep>("prepareStep")});
  }

  explicit NativeRope(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRope>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5) throwType(env, "NativeRope(headDim, rotaryDim, style, pairSection, sectionRows): expected 5 arguments, got " + std::to_string(info.Length()));
    geo_.headDim = intIn(env, numberArg(env, info[0], "headDim"), "headDim", "", 2, double(kMaxHeadDim));
    if (geo_.headDim % 2 != 0) throwRange(env, "headDim " + std::to_string(geo_.headDim) + " is not even");
    geo_.rotaryDim = intIn(env, numberArg(env, info[1], "rotaryDim"), "rotaryDim", "", 2,
                           double(std::min(geo_.headDim, 2 * kMaxHalf)));
    if (geo_.rotaryDim % 2 != 0) throwRange(env, "rotaryDim " + std::to_string(geo_.rotaryDim) + " is not even");
    geo_.style = Style(intIn(env, numberArg(env, info[2], "style"), "style", "", 0, 1));
    geo_.sectionRows = intIn(env, numberArg(env, info[4], "sectionRows"), "sectionRows", "", 1, double(kMaxSectionRows));
    const int64_t half = geo_.rotaryDim / 2;
    try {
      invFreq_.assign(size_t(half), 0.0);
      if (!info[3].IsNull() && !info[3].IsUndefined()) {
        const View s = typedArg(env, info[3], "pairSection", napi_uint8_array);
        if (s.length != half)
          throwRange(env, "pairSection.length " + std::to_string(s.length) + " is not rotaryDim/2 = " + std::to_string(half));
        // Copied first, then the copy is checked: a SharedArrayBuffer-backed array can change
        // under us, and the walk indexes positions rows by these values.
        const uint8_t* p = static_cast<const uint8_t*>(s.data);
        pairSection_.assign(p, p + half);
        for (int64_t j = 0; j < half; j++)
          if (pairSection_[size_t(j)] >= geo_.sectionRows)
            throwRange(env, "pairSection[" + std::to_string(j) + "] = " + std::to_string(pairSection_[size_t(j)]) +
                                " is not below sectionRows " + std::to_string(geo_.sectionRows));
        geo_.pairSection = pairSection_.data();
      }
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(env, "NativeRope: out of memory");
    }
    ownDesc_.make(env, info.This().As<Napi::Object>(), size_t(abi::kLen + geo_.rotaryDim / 2));
  }

  ~NativeRope() override {
    if (reportedBytes_ != 0) {
      int64_t ignored = 0;
      napi_adjust_external_memory(Env(), -reportedBytes_, &ignored);
    }
  }

  void Apply(const Napi::CallbackInfo& info) {
    Plan p;
    prepare(info, "apply", &p, invFreq_.data(), nullptr);  // (no JS runs until the walk is done)
    walkThreaded(p);
    reportMemory(info.Env());
  }

  // apply's checks and arguments, then the cache write's (cache_args.h): q rotated in place, k's
  // rotation and v written into the cache rows in the same walk (lib/abi.ts applyCache).
  void ApplyCache(const Napi::CallbackInfo& info) {
    Plan p;
    prepare(info, "applyCache", &p, invFreq_.data(), nullptr);
    CacheWrite c;
    cacheArgs(info, p, &c, &slotsCopy_);
    p.kv = &c;
    walkThreaded(p);
    reportMemory(info.Env());
  }

  // Tells V8 how many bytes the cos/sin cache holds now (it grows during walks), so a program
  // that drops Ropes gets them collected when their native memory, not their JS size, adds up.
  // One relaxed atomic load when nothing changed.
  void reportMemory(napi_env env) {
    const int64_t now = cache_.bytes();
    if (ROPE_UNLIKELY(now != reportedBytes_)) {
      int64_t ignored = 0;
      napi_adjust_external_memory(env, now - reportedBytes_, &ignored);
      reportedBytes_ = now;
    }
  }
  static void reportMemoryOf(napi_env env, void* self) { static_cast<NativeRope*>(self)->reportMemory(env); }

  // prepareStep(invFreq, attentionScaling, qDtype, qHeads, kDtype, kHeads, threads, inverse) ->
  // step(q, k, positions) or null: fixes everything of a decode call but the arrays and positions
  // (rope.prepare, lib/step.ts). invFreq is copied and checked here, once. Identical
  // configurations share a slot; null when kMaxSteps slots are taken (the facade then makes plain
  // calls). The step is a plain function carrying (this, slot) as its data, so a call skips the
  // ObjectWrap unwrap (a private-symbol property lookup, ~15% of a small call); it holds this
  // NativeRope's JS object alive through a non-enumerable property.
  Napi::Value PrepareStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 8) throwType(env, "prepareStep(invFreq, attentionScaling, qDtype, qHeads, kDtype, kHeads, threads, inverse): expected 8 arguments, got " + std::to_string(info.Length()));
    const int64_t half = geo_.rotaryDim / 2;
    const View f = typedArg(env, info[0], "invFreq", napi_float64_array);
    if (f.length != half) throwRange(env, "invFreq.length " + std::to_string(f.length) + " is not rotaryDim/2 = " + std::to_string(half));
    StepConfig c;
    c.invFreq.assign(static_cast<const double*>(f.data), static_cast<const double*>(f.data) + half);
    for (int64_t j = 0; j < half; j++)
      if (!(std::fabs(c.invFreq[size_t(j)]) < double(kMaxInvFreq)))  // the bound prepare() applies (exact angles)
        throwRange(env, "invFreq[" + std::to_string(j) + "] must be finite and below 2^21 in magnitude, got " + fmt(c.invFreq[size_t(j)]));
    c.attentionScaling = numberArg(env, info[1], "attentionScaling");
    if (!std::isfinite(c.attentionScaling)) throwRange(env, "attentionScaling must be finite, got " + fmt(c.attentionScaling));
    c.qDtype = DType(intIn(env, numberArg(env, info[2], "qDtype"), "qDtype", "", 0, 2));
    c.qHeads = intIn(env, numberArg(env, info[3], "qHeads"), "qHeads", "", 1, double(kMaxHeads));
    c.kDtype = DType(intIn(env, numberArg(env, info[4], "kDtype"), "kDtype", "", 0, 2));
    c.kHeads = intIn(env, numberArg(env, info[5], "kHeads"), "kHeads", "", 1, double(kMaxHeads));
    c.threads = intIn(env, numberArg(env, info[6], "threads"), "threads", "", 0, double(kMaxThreads));  // 0 = auto
    c.inverse = intIn(env, numberArg(env, info[7], "inverse"), "inverse", "", 0, 1) == 1;
    size_t slot = 0;
    while (slot < steps_.size() && !steps_[slot]->same(c)) slot++;
    if (slot == steps_.size()) {
      if (steps_.size() >= kMaxSteps) return env.Null();
      steps_.emplace_back(new StepConfig(std::move(c)));
    }
    std::unique_ptr<StepBinding> b(new StepBinding{this, uint32_t(slot)});
    napi_value fn = nullptr;
    if (napi_create_function(env, "step", NAPI_AUTO_LENGTH, &NativeRope::StepCallback, b.get(), &fn) != napi_ok)
      throw Napi::Error::New(env, "prepareStep: cannot create the step function");
    if (napi_add_finalizer(env, fn, b.get(), [](napi_env, void* data, void*) { delete static_cast<StepBinding*>(data); },
                           nullptr, nullptr) != napi_ok)
      throw Napi::Error::New(env, "prepareStep: cannot attach the step's data");
    b.release();
    Napi::Object stepFn(env, fn);
    stepFn.DefineProperty(Napi::PropertyDescriptor::Value("rope", info.This(), napi_default));
    stepFn.DefineProperty(Napi::PropertyDescriptor::Value("takesCache", Napi::Boolean::New(env, true), napi_default));
    return stepFn;
  }

  struct StepBinding {
    NativeRope* rope;
    uint32_t slot;
  };

  // step(q, k, positions) or step(q, k, positions, v, kCache, vCache, slots, cacheCode): the second
  // form writes the cache as applyCache does (stepCachePlan).
  static napi_value StepCallback(napi_env env, napi_callback_info cbinfo) {
    size_t argc = 8;
    napi_value argv[8] = {};
    void* data = nullptr;
    napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, &data);
    const StepBinding* b = static_cast<const StepBinding*>(data);
    bool done = false;
    try {
      done = argc == 3 ? b->rope->runStep(env, b->slot, argv) : argc == 8 && b->rope->runCacheStep(env, b->slot, argv);
    } catch (...) {  // (nothing in runStep throws; a JS error rather than a crash if it ever did)
      napi_throw_error(env, nullptr, "rope-simd: step failed");
      return nullptr;
    }
    napi_value out = nullptr;
    napi_get_boolean(env, done, &out);
    return out;
  }

  bool runStep(napi_env env, uint32_t slot, const napi_value* argv) {
    Plan p;
    if (!stepPlan(env, geo_, cache_, *steps_[slot], argv, &p)) return false;
    walkThreaded(p);
    reportMemory(env);
    return true;
  }

  bool runCacheStep(napi_env env, uint32_t slot, const napi_value* argv) {
    Plan p;
    StepCache c;
    if (!stepPlan(env, geo_, cache_, *steps_[slot], argv, &p) || !stepCachePlan(env, argv, &p, &c)) return false;
    walkThreaded(p);
    reportMemory(env);
    return true;
  }

  // Same checks as apply (thrown synchronously: the facade turns them into a rejection), then the
  // walk runs on the libuv pool, on memory no JS can pull away (binding/async.h: SharedArrayBuffer
  // memory in place, anything else in a native copy whose rows are written back, after a re-check,
  // on the JS thread). Everything that can fail happens before the promise exists: a refused call
  // leaves no deferred unsettled and writes nothing.
  Napi::Value ApplyAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<EnvAsync> state = envAsync(env);
    if (!state) throw Napi::Error::New(env, "applyAsync: not available in this environment (use apply)");
    std::unique_ptr<AsyncCall> c;
    try {
      c.reset(new AsyncCall());
      c->invFreq.assign(size_t(geo_.rotaryDim / 2), 0.0);  // its buffer moves with c: plan may point in
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(env, "applyAsync: out of memory");
    }
    std::shared_ptr<CosSinTable> table;
    Plan& plan = c->plan;
    prepare(info, "applyAsync", &plan, c->invFreq.data(), &table);
    c->table = std::move(table);
    c->owner = this;
    c->onDone = &NativeRope::reportMemoryOf;
    try {
      TensorRef* tensors[2] = {&plan.q, plan.hasK ? &plan.k : nullptr};
      // One call, one outcome: if either tensor needs a copy, both are copied, so a rejection at
      // completion leaves the shared one unwritten too.
      const bool copyAll = !sharedMemory(env, info[0]) || (plan.hasK && !sharedMemory(env, info[1]));
      for (int i = 0; i < 2; i++) {
        if (tensors[i] == nullptr || !copyAll) continue;
        stageTensor(tensors[i], plan.batch, plan.tokens, geo_.headDim, geo_.rotaryDim, &c->staged[i]);
        c->isStaged[i] = true;
        c->externalBytes += c->staged[i].bytes;
      }
      if (plan.positions != nullptr) stagePositions(env, c.get());
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(env, "applyAsync: out of memory for the native copy of the rows (a SharedArrayBuffer-backed array is rotated in place)");
    }
    // References: the NativeRope (the plan points into its pairSection and cache) and every
    // in-place array (keeps a SharedArrayBuffer alive); staged arrays, to find them again.
    napi_env e = env;
    bool ok = napi_create_reference(e, info.This(), 1, &c->refs[0]) == napi_ok;
    for (int i = 0; i < 2 && ok; i++) {
      if (i == 1 && !plan.hasK) break;
      ok = napi_create_reference(e, info[i], 1, c->isStaged[i] ? &c->staged[i].array : &c->refs[1 + i]) == napi_ok;
    }
    napi_value name = nullptr;
    ok = ok && napi_create_string_utf8(e, "rope-simd:applyAsync", NAPI_AUTO_LENGTH, &name) == napi_ok &&
         napi_create_async_work(e, nullptr, name, AsyncCall::execute, AsyncCall::complete, c.get(), &c->work) == napi_ok;
    napi_value promise = nullptr;
    ok = ok && napi_create_promise(e, &c->deferred, &promise) == napi_ok;
    if (!ok) {
      c->externalBytes = 0;  // (not reported yet)
      c->release(e);
      throw Napi::Error::New(env, "applyAsync: could not queue the work (Node-API failed)");
    }
    int64_t ignored = 0;
    if (c->externalBytes != 0) napi_adjust_external_memory(e, c->externalBytes, &ignored);
    c->envState = std::move(state);
    if (napi_queue_async_work(e, c->work) != napi_ok) {
      napi_value err = AsyncCall::error(e, "Error", "applyAsync: could not queue the work: nothing was written");
      if (err != nullptr) napi_reject_deferred(e, c->deferred, err);
      c->release(e);
      return Napi::Value(env, promise);
    }
    c.release();  // AsyncCall::complete deletes it
    return Napi::Value(env, promise);
  }

 private:
  // An async call's positions: the entries the walk reads, copied (packed: rows x batch x tokens,
  // zero strides kept) and then checked again, so no JS thread can change them mid-walk.
  static void stagePositions(Napi::Env env, AsyncCall* c) {
    packPositions(&c->plan, &c->positions);
    for (size_t i = 0; i < c->positions.size(); i++)
      if (ROPE_UNLIKELY(c->positions[i] < 0))
        throwRange(env, "positions changed while applyAsync was checking them (now " + std::to_string(c->positions[i]) +
                            "; positions must be in [0, 2^31))");
  }

  // apply's and applyAsync's checks (binding/call_args.h).
  void prepare(const Napi::CallbackInfo& info, const char* call, Plan* out, double* invFreqOut,
               std::shared_ptr<CosSinTable>* keep) {
    prepareCall(info, call, CallContext{geo_, cache_, ownDesc_, posCopy_}, out, invFreqOut, keep);
  }

  static constexpr size_t kMaxSteps = 64;
  std::vector<std::unique_ptr<StepConfig>> steps_;
  Geometry geo_;
  std::vector<uint8_t> pairSection_;
  std::vector<int32_t> posCopy_;  // a sync call's positions when they share memory with q or k
  std::vector<int32_t> slotsCopy_;  // a cache write's slots, copied and checked
  std::vector<double> invFreq_;  // a sync call's invFreq, copied and checked (sized once)
  CosSinCache cache_;
  OwnDesc ownDesc_;  // handle.desc (binding/own_desc.h)
  int64_t reportedBytes_ = 0;  // cache bytes told to V8 (napi_adjust_external_memory)
};

}  // namespace

Napi::Function defineNativeRope(Napi::Env env) { return NativeRope::Define(env); }

}  // namespace binding
}  // namespace rope
