// Compatibility shim that lets @confluentinc/kafka-javascript's NAN addon run
// under Bun (see README.md in this directory for the why of every piece and
// for the upstream issue that will make this file unnecessary).
//
// It is compiled into the addon by scripts/build-kafka-addon.sh and provides:
//  1. V8 / Node C++ API functions the addon imports but Bun does not export,
//     implemented on the subset Bun does export, with V8's semantics;
//  2. a null-safe v8::Array::Length (linked with -Wl,--wrap).
// The libuv replacements are in uvshim.cc.
//
// Rules for this file:
//  - Only ever called on the JS thread (V8 API).
//  - Never leave a JS exception pending where V8 would not throw: the addon
//    has no TryCatch and a stray exception surfaces in unrelated JS code.
//    The JS built-ins called below (Object.keys, Reflect.has, Math.trunc,
//    Buffer.allocUnsafeSlow, ...) cannot throw for the arguments passed.
//  - v8::/node:: definitions keep default visibility: if a later Bun exports
//    one of them, Bun's wins at load time (scripts/check-kafka-addon-symbols.sh
//    then fails so that the definition here gets deleted).
#include <node.h>
#include <node_buffer.h>
#include <v8.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#define SHIM_LOCAL __attribute__((visibility("hidden")))

using v8::Array;
using v8::ArrayBufferView;
using v8::Context;
using v8::EscapableHandleScope;
using v8::Function;
using v8::HandleScope;
using v8::Isolate;
using v8::Just;
using v8::Local;
using v8::Maybe;
using v8::MaybeLocal;
using v8::NewStringType;
using v8::Nothing;
using v8::Number;
using v8::Object;
using v8::String;
using v8::Value;

namespace {

// In Bun's V8 layer (as in V8 with indirect handles) a Local<T> is one
// pointer to a handle slot, and `this` inside a v8::Value method IS that slot
// address. Rebuild the Local so the exported API can be used on `this`.
template <class T>
Local<T> FromThis(const void* self) {
  static_assert(sizeof(Local<T>) == sizeof(void*), "Local<T> must be one pointer");
  Local<T> local;
  void* slot = const_cast<void*>(self);
  std::memcpy(static_cast<void*>(&local), &slot, sizeof slot);
  return local;
}

Local<String> Str(Isolate* iso, const char* s) {
  return String::NewFromUtf8(iso, s, NewStringType::kInternalized).ToLocalChecked();
}

// globalThis[holder](...args) when `name` is null, else
// globalThis[holder][name](...args) with `this` = the holder object (or `recv`
// when given). Empty when a lookup fails or the call throws.
MaybeLocal<Value> CallBuiltin(Local<Context> ctx, const char* holder, const char* name,
                              int argc, Local<Value>* argv,
                              Local<Value> recv = Local<Value>()) {
  Isolate* iso = Isolate::GetCurrent();
  Local<Value> h, fn;
  if (!ctx->Global()->Get(ctx, Str(iso, holder)).ToLocal(&h) || !h->IsObject()) return {};
  if (name == nullptr) {
    fn = h;
    h = v8::Undefined(iso);
  } else if (!h.As<Object>()->Get(ctx, Str(iso, name)).ToLocal(&fn)) {
    return {};
  }
  if (!fn->IsFunction()) return {};
  return fn.As<Function>()->Call(ctx, recv.IsEmpty() ? h : recv, argc, argv);
}

// JS ToNumber for a non-number, via Math.trunc (which applies ToNumber first
// and throws for Symbol/BigInt, exactly where V8's ToNumber throws). The
// result is already truncated, which every caller below wants anyway.
Maybe<double> TruncatedNumber(Local<Context> ctx, Local<Value> v) {
  if (v->IsNumber()) return Just(std::trunc(v.As<Number>()->Value()));
  Local<Value> r;
  if (!CallBuiltin(ctx, "Math", "trunc", 1, &v).ToLocal(&r) || !r->IsNumber())
    return Nothing<double>();
  return Just(r.As<Number>()->Value());
}

// ECMAScript ToInt32 of an already truncated double (V8's DoubleToInt32).
int32_t DoubleToInt32(double d) {
  if (!std::isfinite(d)) return 0;
  double m = std::fmod(d, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(m));
}

// V8's NumberToInt64: NaN -> 0, saturating at the int64 range.
int64_t DoubleToInt64(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9223372036854775808.0) return INT64_MAX;
  if (d <= -9223372036854775808.0) return INT64_MIN;
  return static_cast<int64_t>(d);
}

// A canonical array index ("0", "17", not "017" or "4294967295") as V8
// reports it with KeyConversionMode::kKeepNumbers; -1 otherwise.
int64_t ArrayIndexOf(Isolate* iso, Local<String> s) {
  int len = s->Length();
  if (len < 1 || len > 10) return -1;
  char buf[16];
  size_t n = s->WriteUtf8V2(iso, buf, sizeof buf - 1);
  if (n != static_cast<size_t>(len)) return -1;
  if (buf[0] == '0' && len > 1) return -1;
  int64_t v = 0;
  for (int i = 0; i < len; i++) {
    if (buf[i] < '0' || buf[i] > '9') return -1;
    v = v * 10 + (buf[i] - '0');
  }
  return v < 4294967295LL ? v : -1;
}

// Any Node Buffer/TypedArray/DataView, like node::Buffer::HasInstance.
bool IsView(Isolate* iso, Local<Value> v) {
  if (v->IsUint8Array()) return true;  // Buffer and Uint8Array: no JS call
  if (!v->IsObject()) return false;
  HandleScope scope(iso);
  Local<Value> r;
  return CallBuiltin(iso->GetCurrentContext(), "ArrayBuffer", "isView", 1, &v).ToLocal(&r) &&
         r->IsTrue();
}

// A Node Buffer holding a copy of data[0..len). When the runtime installed
// globalThis.__ferryKafkaBuffer (runtime/kafka/buffer-slab.ts), the Buffer comes
// from it: a view into a shared slab for small sizes, one allocation per slab
// instead of per key, value and header (the garbage collector's largest cost
// at saturation). Without it: a fresh, unpooled Buffer.
MaybeLocal<Object> CopyToNewBuffer(Isolate* iso, const char* data, size_t len) {
  EscapableHandleScope scope(iso);
  Local<Context> ctx = iso->GetCurrentContext();
  Local<Value> size = Number::New(iso, static_cast<double>(len));
  Local<Value> out;
  if (!CallBuiltin(ctx, "__ferryKafkaBuffer", nullptr, 1, &size).ToLocal(&out) ||
      !out->IsUint8Array() || out.As<ArrayBufferView>()->ByteLength() != len) {
    // allocUnsafeSlow, not allocUnsafe: a pooled slice would keep an 8 KiB slab
    // alive per retained message and its .buffer would not be its own, unlike
    // the buffers node::Buffer::New/Copy make.
    if (!CallBuiltin(ctx, "Buffer", "allocUnsafeSlow", 1, &size).ToLocal(&out) ||
        !out->IsUint8Array())
      return {};
  }
  if (len) {
    Local<ArrayBufferView> view = out.As<ArrayBufferView>();
    char* dst = static_cast<char*>(view->Buffer()->GetBackingStore()->Data()) + view->ByteOffset();
    std::memcpy(dst, data, len);
  }
  return scope.Escape(out.As<Object>());
}

}  // namespace

namespace v8 {

// V8's default filter: own, enumerable, string keys (symbols skipped), with
// array indices converted to Numbers (KeyConversionMode::kKeepNumbers).
MaybeLocal<Array> Object::GetOwnPropertyNames(Local<Context> context) {
  Isolate* iso = Isolate::GetCurrent();
  EscapableHandleScope scope(iso);
  Local<Value> self = FromThis<Value>(this);
  Local<Value> keys;
  if (!CallBuiltin(context, "Object", "keys", 1, &self).ToLocal(&keys) || !keys->IsArray())
    return {};
  Local<Array> arr = keys.As<Array>();
  for (uint32_t i = 0, n = arr->Length(); i < n; i++) {
    Local<Value> k;
    if (!arr->Get(context, i).ToLocal(&k) || !k->IsString()) continue;
    int64_t index = ArrayIndexOf(iso, k.As<String>());
    if (index >= 0 && arr->Set(context, i, Number::New(iso, static_cast<double>(index))).IsNothing())
      return {};
  }
  return scope.Escape(arr);
}

// [[HasProperty]]: own or inherited, like the `in` operator.
Maybe<bool> Object::Has(Local<Context> context, Local<Value> key) {
  HandleScope scope(Isolate::GetCurrent());
  Local<Value> argv[2] = {FromThis<Value>(this), key};
  Local<Value> r;
  if (!CallBuiltin(context, "Reflect", "has", 2, argv).ToLocal(&r)) return Nothing<bool>();
  return Just(r->IsTrue());
}

// ECMAScript ToObject: throws a TypeError for null/undefined, as V8 does.
MaybeLocal<Object> Value::ToObject(Local<Context> context) const {
  Isolate* iso = Isolate::GetCurrent();
  Local<Value> self = FromThis<Value>(this);
  if (self->IsObject()) return self.As<Object>();
  if (self->IsNullOrUndefined()) {
    iso->ThrowException(Exception::TypeError(Str(iso, "Cannot convert undefined or null to object")));
    return {};
  }
  EscapableHandleScope scope(iso);
  Local<Value> r;
  if (!CallBuiltin(context, "Object", nullptr, 1, &self).ToLocal(&r) || !r->IsObject()) return {};
  return scope.Escape(r.As<Object>());
}

// ToNumber then ToInt32 (modulo 2^32), as V8; throws for Symbol/BigInt.
Maybe<int32_t> Value::Int32Value(Local<Context> context) const {
  HandleScope scope(Isolate::GetCurrent());
  Local<Value> self = FromThis<Value>(this);
  if (self->IsInt32()) return Just(self.As<Int32>()->Value());
  Maybe<double> d = TruncatedNumber(context, self);
  if (d.IsNothing()) return Nothing<int32_t>();
  return Just(DoubleToInt32(d.FromJust()));
}

// ToNumber, truncate, NaN -> 0, saturate to int64, as V8's NumberToInt64.
Maybe<int64_t> Value::IntegerValue(Local<Context> context) const {
  HandleScope scope(Isolate::GetCurrent());
  Maybe<double> d = TruncatedNumber(context, FromThis<Value>(this));
  if (d.IsNothing()) return Nothing<int64_t>();
  return Just(DoubleToInt64(d.FromJust()));
}

// ECMAScript ToBoolean (never throws).
bool Value::BooleanValue(Isolate* isolate) const {
  HandleScope scope(isolate);
  Local<Value> self = FromThis<Value>(this);
  if (self->IsBoolean()) return self->IsTrue();
  if (self->IsNullOrUndefined()) return false;
  if (self->IsNumber()) {
    double d = self.As<Number>()->Value();
    return d != 0 && !std::isnan(d);
  }
  if (self->IsString()) return self.As<String>()->Length() > 0;
  if (self->IsObject()) return true;
  // BigInt (0n is falsy) and Symbol (truthy): let JS decide.
  Local<Value> r;
  return CallBuiltin(isolate->GetCurrentContext(), "Boolean", nullptr, 1, &self).ToLocal(&r) &&
         r->IsTrue();
}

// Brand check through Object.prototype.toString. Differs from V8 only for an
// object that fakes Symbol.toStringTag = "RegExp" (not an input this addon
// sees: it is asked about the entries of a subscription list).
bool Value::IsRegExp() const {
  Local<Value> self = FromThis<Value>(this);
  if (!self->IsObject() || self->IsFunction()) return false;
  Isolate* iso = Isolate::GetCurrent();
  HandleScope scope(iso);
  Local<Context> ctx = iso->GetCurrentContext();
  Local<Value> proto, toString, r;
  Local<Value> objectCtor;
  if (!ctx->Global()->Get(ctx, Str(iso, "Object")).ToLocal(&objectCtor) || !objectCtor->IsObject() ||
      !objectCtor.As<Object>()->Get(ctx, Str(iso, "prototype")).ToLocal(&proto) || !proto->IsObject() ||
      !proto.As<Object>()->Get(ctx, Str(iso, "toString")).ToLocal(&toString) ||
      !toString->IsFunction() || !toString.As<Function>()->Call(ctx, self, 0, nullptr).ToLocal(&r))
    return false;
  return r->StrictEquals(Str(iso, "[object RegExp]"));
}

// RegExp.prototype.source: the pattern with "/" escaped and "(?:)" for an
// empty one, which is what V8 stores and returns here.
Local<String> RegExp::GetSource() const {
  Isolate* iso = Isolate::GetCurrent();
  EscapableHandleScope scope(iso);
  Local<Context> ctx = iso->GetCurrentContext();
  Local<Value> v;
  if (!FromThis<Object>(this)->Get(ctx, Str(iso, "source")).ToLocal(&v) || !v->IsString())
    return scope.Escape(Str(iso, "(?:)"));
  return scope.Escape(v.As<String>());
}

}  // namespace v8

namespace node {
namespace Buffer {

// Node: any ArrayBufferView (Buffer, TypedArray, DataView).
bool HasInstance(Local<Value> val) { return IsView(Isolate::GetCurrent(), val); }
bool HasInstance(Local<Object> obj) { return HasInstance(obj.As<Value>()); }

// Never NULL for a view, even an empty one. The producer turns a NULL data
// pointer into a NULL Kafka value (a tombstone) and only guards against it by
// re-wrapping a `new char[0]` with Buffer::New, which under this shim is
// copied and freed: an empty value must not turn into a delete.
char* Data(Local<Value> val) {
  static char empty[1];
  Isolate* iso = Isolate::GetCurrent();
  if (!IsView(iso, val)) return nullptr;
  HandleScope scope(iso);
  Local<ArrayBufferView> view = val.As<ArrayBufferView>();
  if (view->ByteLength() == 0) return empty;
  char* base = static_cast<char*>(view->Buffer()->GetBackingStore()->Data());
  return base ? base + view->ByteOffset() : empty;
}
char* Data(Local<Object> obj) { return Data(obj.As<Value>()); }

size_t Length(Local<Value> val) {
  if (!IsView(Isolate::GetCurrent(), val)) return 0;
  return val.As<ArrayBufferView>()->ByteLength();
}
size_t Length(Local<Object> obj) { return Length(obj.As<Value>()); }

// Node takes ownership of `data` (malloc'd; released with free()) on success
// AND on failure. Bun exports no way to make a Buffer over foreign memory, so
// copy and free now: callers (delivery reports) never touch `data` again.
MaybeLocal<Object> New(Isolate* isolate, char* data, size_t length) {
  MaybeLocal<Object> r = CopyToNewBuffer(isolate, data, length);
  std::free(data);
  return r;
}

}  // namespace Buffer

// Node's StringBytes::Encode. BUFFER copies; the string encodings decode like
// Buffer#toString, which Bun implements with Node's semantics (ascii clears
// the high bit, invalid UTF-8 becomes U+FFFD, ...).
MaybeLocal<Value> TryEncode(Isolate* isolate, const char* buf, size_t len, enum encoding enc) {
  EscapableHandleScope scope(isolate);
  if (enc == UTF8 && len <= static_cast<size_t>(INT_MAX)) {
    Local<String> s;
    if (!String::NewFromUtf8(isolate, buf, NewStringType::kNormal, static_cast<int>(len)).ToLocal(&s))
      return {};
    return scope.Escape(s);
  }
  const char* name = nullptr;
  switch (enc) {
    case ASCII: name = "ascii"; break;
    case UTF8: name = "utf8"; break;
    case BASE64: name = "base64"; break;
    case UCS2: name = "ucs2"; break;
    case LATIN1: name = "latin1"; break;
    case HEX: name = "hex"; break;
    case BASE64URL: name = "base64url"; break;
    case BUFFER: break;
  }
  Local<Object> copy;
  if (!CopyToNewBuffer(isolate, buf, len).ToLocal(&copy)) return {};
  if (enc == BUFFER) return scope.Escape(copy);
  if (name == nullptr) {
    isolate->ThrowException(v8::Exception::TypeError(Str(isolate, "node::TryEncode: unknown encoding")));
    return {};
  }
  Local<Context> ctx = isolate->GetCurrentContext();
  Local<Value> fn, r;
  Local<Value> arg = Str(isolate, name);
  if (!copy->Get(ctx, Str(isolate, "toString")).ToLocal(&fn) || !fn->IsFunction() ||
      !fn.As<Function>()->Call(ctx, copy, 1, &arg).ToLocal(&r))
    return {};
  return scope.Escape(r);
}

}  // namespace node

extern "C" {

// ---- v8::Array::Length on a non-array --------------------------------------
// Producer::NodeProduce casts the headers argument to v8::Array without a
// check; the JS layer passes null for a message without headers. V8 happens
// to read 0 there; Bun dereferences a non-array and segfaults. Linked with
// -Wl,--wrap=_ZNK2v85Array6LengthEv (the mangled v8::Array::Length() const).
uint32_t __real__ZNK2v85Array6LengthEv(const v8::Array* self);
SHIM_LOCAL uint32_t __wrap__ZNK2v85Array6LengthEv(const v8::Array* self) {
  if (!FromThis<Value>(self)->IsArray()) return 0;
  return __real__ZNK2v85Array6LengthEv(self);
}

// ---- v8::Global / v8::Persistent Reset() ----------------------------------
// Bun 1.4.5's v8::api_internal::DisposeGlobal is a no-op ("TODO free up a
// slot"): the object a reset Global pointed to stays reachable from Bun's
// global handle buffer forever. NAN keeps every AsyncWorker's callback and
// resource object in Globals, so each consume() leaked its callback, and with
// the callback's closure the whole batch of messages it delivered (~2 KiB per
// 1 KiB message: RSS grew without bound). Writing a Smi (0) into the slot makes
// Bun's GC skip it (only handles holding cells are visited), so the object is
// collected; the 24-byte slot itself stays allocated until Bun frees slots.
// undefined/null/true/false are never copied into a new slot: their Globals
// share the isolate's root slots, which must keep their values. Linked with
// -Wl,--wrap=_ZN2v812api_internal13DisposeGlobalEPm.
void __real__ZN2v812api_internal13DisposeGlobalEPm(uintptr_t* location);
SHIM_LOCAL void __wrap__ZN2v812api_internal13DisposeGlobalEPm(uintptr_t* location) {
  if (location != nullptr) {
    const auto* value = reinterpret_cast<const Value*>(location);
    if (!value->IsUndefined() && !value->IsNull() && !value->IsTrue() && !value->IsFalse()) *location = 0;
  }
  __real__ZN2v812api_internal13DisposeGlobalEPm(location);
}

}  // extern "C"
