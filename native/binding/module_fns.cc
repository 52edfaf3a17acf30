#include "binding/module_fns.h"

#include <string>
#include <vector>

#include "binding/args.h"
#include "dispatch.h"

namespace rope {
namespace binding {

Napi::Value SupportedIsas(const Napi::CallbackInfo& info) {
  const std::vector<std::string> isas = supportedIsas();
  Napi::Array out = Napi::Array::New(info.Env(), isas.size());
  for (size_t i = 0; i < isas.size(); i++) out.Set(uint32_t(i), isas[i]);
  return out;
}

Napi::Value Isa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), activeKernels().isa); }

void SelectIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throwType(env, "selectIsa(name): name must be a string, got " + describe(info.Length() ? info[0] : env.Undefined()));
  std::string err;
  if (!selectKernels(info[0].As<Napi::String>().Utf8Value().c_str(), &err)) throw Napi::Error::New(env, err);
}

}  // namespace binding
}  // namespace rope
