// Used by scripts/prebuild/prebuild-cross.mjs: loads a Node-API addon the way node would (after a stub of
// node's Node-API exports) under the glibc of the sysroot it runs with: the symbol versions resolve there.
#include <dlfcn.h>
#include <stdio.h>
#include <gnu/libc-version.h>
int main(int argc, char **argv) {
  if (!dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL)) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  void *h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  if (!dlsym(h, "napi_register_module_v1")) { fprintf(stderr, "no napi_register_module_v1 in %s\n", argv[2]); return 1; }
  printf("glibc %s loads %s\n", gnu_get_libc_version(), argv[2]);
  return 0;
}
