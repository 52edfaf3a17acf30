// handle.desc: a NativeRope's own Float64Array(kLen + rotaryDim/2), laid out as a descriptor
// followed by invFreq. Passing it as desc (with invFreq null: then invFreq is read from its tail)
// spares a call two typed-array inspections, the largest fixed cost of a decode call. Sound by
// Node-API alone: its memory is a block the handle allocated, lent to V8 as an external
// ArrayBuffer and freed when BOTH the handle and that buffer's finalizer have let go (a count of
// two). So JS can detach or transfer the buffer (the new owner may be collected) and the handle
// still reads live memory; the handle can be collected while JS keeps handle.desc and that stays
// valid too. Everything read from it is copied and checked like any other argument (another thread
// may write it after a transfer). Where external buffers are not allowed (Electron's V8 sandbox)
// there is no handle.desc: lib/engine-native.ts then passes its own descriptor.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>

namespace rope {
namespace binding {

class OwnDesc {
 public:
  OwnDesc() = default;
  OwnDesc(const OwnDesc&) = delete;
  OwnDesc& operator=(const OwnDesc&) = delete;
  ~OwnDesc() { Block::release(block_); }

  // Makes self.desc, n doubles (zero-filled). Without memory or external buffers there is none.
  void make(Napi::Env env, Napi::Object self, size_t n);

  // Whether v is this handle's own descriptor array (handle.desc).
  bool is(napi_env env, napi_value v) const;

  // Its memory (kLen + rotaryDim/2 doubles), or nullptr when there is no handle.desc.
  const double* data() const { return data_; }

 private:
  struct Block {
    std::atomic<int> refs{2};
    alignas(64) double data[1];  // n doubles (allocated past the end)
    static void release(Block* b) {
      if (b != nullptr && b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        b->~Block();
        std::free(b);
      }
    }
  };
  Block* block_ = nullptr;
  const double* data_ = nullptr;
  Napi::ObjectReference ref_;
};

}  // namespace binding
}  // namespace rope
