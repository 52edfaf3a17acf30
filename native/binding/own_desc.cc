#include "binding/own_desc.h"

#include <new>

namespace rope {
namespace binding {

void OwnDesc::make(Napi::Env env, Napi::Object self, size_t n) {
  void* mem = std::calloc(1, offsetof(Block, data) + n * sizeof(double));
  if (mem == nullptr) return;
  Block* block = new (mem) Block();
  napi_value ab = nullptr, ta = nullptr;
  const napi_status st = napi_create_external_arraybuffer(
      env, block->data, n * sizeof(double), [](napi_env, void*, void* hint) { Block::release(static_cast<Block*>(hint)); },
      block, &ab);
  if (st != napi_ok) {
    bool pending = false;
    napi_value ignored = nullptr;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
    block->refs.store(1);
    Block::release(block);  // no finalizer will run
    return;
  }
  block_ = block;  // the handle's share (released in the destructor)
  data_ = block->data;
  if (napi_create_typedarray(env, napi_float64_array, n, ab, 0, &ta) != napi_ok) {
    data_ = nullptr;
    return;
  }
  ref_ = Napi::Persistent(Napi::Object(env, ta));
  self.DefineProperty(Napi::PropertyDescriptor::Value("desc", Napi::Value(env, ta), napi_enumerable));
}

bool OwnDesc::is(napi_env env, napi_value v) const {
  if (data_ == nullptr) return false;
  napi_value own = nullptr;
  bool same = false;
  return napi_get_reference_value(env, ref_, &own) == napi_ok && own != nullptr &&
         napi_strict_equals(env, own, v, &same) == napi_ok && same;
}

}  // namespace binding
}  // namespace rope
