// Exposes the shimmed V8/Node/libuv functions to JS, one thin wrapper each.
// No logic of its own: shim.test.ts holds the expectations.
#include <node.h>
#include <node_buffer.h>
#include <uv.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using v8::Array;
using v8::BigInt;
using v8::Boolean;
using v8::Context;
using v8::FunctionCallbackInfo;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::Number;
using v8::Object;
using v8::RegExp;
using v8::String;
using v8::Value;

Local<Context> Ctx(const FunctionCallbackInfo<Value>& a) { return a.GetIsolate()->GetCurrentContext(); }

void Int32Value(const FunctionCallbackInfo<Value>& a) {
  v8::Maybe<int32_t> r = a[0]->Int32Value(Ctx(a));
  if (r.IsJust()) a.GetReturnValue().Set(Integer::New(a.GetIsolate(), r.FromJust()));
}

void IntegerValue(const FunctionCallbackInfo<Value>& a) {
  v8::Maybe<int64_t> r = a[0]->IntegerValue(Ctx(a));
  if (r.IsJust()) a.GetReturnValue().Set(BigInt::New(a.GetIsolate(), r.FromJust()));
}

void BooleanValue(const FunctionCallbackInfo<Value>& a) {
  a.GetReturnValue().Set(Boolean::New(a.GetIsolate(), a[0]->BooleanValue(a.GetIsolate())));
}

void ToObject(const FunctionCallbackInfo<Value>& a) {
  Local<Object> o;
  if (a[0]->ToObject(Ctx(a)).ToLocal(&o)) a.GetReturnValue().Set(o);
}

void Has(const FunctionCallbackInfo<Value>& a) {
  v8::Maybe<bool> r = a[0].As<Object>()->Has(Ctx(a), a[1]);
  if (r.IsJust()) a.GetReturnValue().Set(Boolean::New(a.GetIsolate(), r.FromJust()));
}

void OwnPropertyNames(const FunctionCallbackInfo<Value>& a) {
  Local<Array> r;
  if (a[0].As<Object>()->GetOwnPropertyNames(Ctx(a)).ToLocal(&r)) a.GetReturnValue().Set(r);
}

void IsRegExp(const FunctionCallbackInfo<Value>& a) {
  a.GetReturnValue().Set(Boolean::New(a.GetIsolate(), a[0]->IsRegExp()));
}

void RegExpSource(const FunctionCallbackInfo<Value>& a) {
  a.GetReturnValue().Set(a[0].As<RegExp>()->GetSource());
}

void BufferHasInstance(const FunctionCallbackInfo<Value>& a) {
  a.GetReturnValue().Set(Boolean::New(a.GetIsolate(), node::Buffer::HasInstance(a[0])));
}

void BufferLength(const FunctionCallbackInfo<Value>& a) {
  a.GetReturnValue().Set(Number::New(a.GetIsolate(), static_cast<double>(node::Buffer::Length(a[0]))));
}

void BufferDataIsNull(const FunctionCallbackInfo<Value>& a) {
  a.GetReturnValue().Set(Boolean::New(a.GetIsolate(), node::Buffer::Data(a[0]) == nullptr));
}

// Reads the bytes through node::Buffer::Data/Length and returns them in a new
// Buffer made by node::Buffer::New from a malloc'd copy (ownership passes).
void BufferRoundTrip(const FunctionCallbackInfo<Value>& a) {
  size_t len = node::Buffer::Length(a[0]);
  char* copy = static_cast<char*>(std::malloc(len ? len : 1));
  if (len) std::memcpy(copy, node::Buffer::Data(a[0]), len);
  Local<Object> out;
  if (node::Buffer::New(a.GetIsolate(), copy, len).ToLocal(&out)) a.GetReturnValue().Set(out);
}

void Encode(const FunctionCallbackInfo<Value>& a) {
  Local<Value> r;
  auto enc = static_cast<node::encoding>(a[1].As<v8::Int32>()->Value());
  if (node::TryEncode(a.GetIsolate(), node::Buffer::Data(a[0]), node::Buffer::Length(a[0]), enc).ToLocal(&r))
    a.GetReturnValue().Set(r);
}

void ArrayLength(const FunctionCallbackInfo<Value>& a) {
  a.GetReturnValue().Set(Number::New(a.GetIsolate(), Local<Array>::Cast(a[0])->Length()));
}

// N threads (uv_thread_create) each add 1 to a shared counter M times under
// the write lock and check it under the read lock; returns the final count.
struct LockTest {
  uv_rwlock_t lock;
  long counter = 0;
  int rounds = 0;
  std::atomic<int> torn{0};
};

void LockWorker(void* p) {
  auto* t = static_cast<LockTest*>(p);
  for (int i = 0; i < t->rounds; i++) {
    uv_rwlock_wrlock(&t->lock);
    long before = t->counter;
    t->counter = before + 1;
    if (t->counter != before + 1) t->torn++;
    uv_rwlock_wrunlock(&t->lock);
    uv_rwlock_rdlock(&t->lock);
    if (t->counter < 1) t->torn++;
    uv_rwlock_rdunlock(&t->lock);
  }
}

void ThreadsWithRwlock(const FunctionCallbackInfo<Value>& a) {
  int threads = a[0].As<v8::Int32>()->Value();
  LockTest t;
  t.rounds = a[1].As<v8::Int32>()->Value();
  if (uv_rwlock_init(&t.lock) != 0) return;
  std::vector<uv_thread_t> tids(threads);
  for (auto& tid : tids)
    if (uv_thread_create(&tid, LockWorker, &t) != 0) std::abort();
  for (auto& tid : tids)
    if (uv_thread_join(&tid) != 0) std::abort();
  uv_rwlock_destroy(&t.lock);
  a.GetReturnValue().Set(Number::New(a.GetIsolate(), t.torn ? -1.0 : static_cast<double>(t.counter)));
}

// Holds each argument in a v8::Global, resets it, and returns the arguments
// read back through fresh Globals: a reset must release the object without
// disturbing other values (the shared undefined/null/true/false slots).
void GlobalResetRoundTrip(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  Local<Array> out = Array::New(iso, a.Length());
  for (int i = 0; i < a.Length(); i++) {
    v8::Global<Value> held(iso, a[i]);
    held.Reset();
    v8::Global<Value> again(iso, a[i]);
    if (out->Set(iso->GetCurrentContext(), i, again.Get(iso)).IsNothing()) return;
  }
  a.GetReturnValue().Set(out);
}

void Init(Local<Object> exports) {
  NODE_SET_METHOD(exports, "int32Value", Int32Value);
  NODE_SET_METHOD(exports, "integerValue", IntegerValue);
  NODE_SET_METHOD(exports, "booleanValue", BooleanValue);
  NODE_SET_METHOD(exports, "toObject", ToObject);
  NODE_SET_METHOD(exports, "has", Has);
  NODE_SET_METHOD(exports, "ownPropertyNames", OwnPropertyNames);
  NODE_SET_METHOD(exports, "isRegExp", IsRegExp);
  NODE_SET_METHOD(exports, "regExpSource", RegExpSource);
  NODE_SET_METHOD(exports, "bufferHasInstance", BufferHasInstance);
  NODE_SET_METHOD(exports, "bufferLength", BufferLength);
  NODE_SET_METHOD(exports, "bufferDataIsNull", BufferDataIsNull);
  NODE_SET_METHOD(exports, "bufferRoundTrip", BufferRoundTrip);
  NODE_SET_METHOD(exports, "encode", Encode);
  NODE_SET_METHOD(exports, "arrayLength", ArrayLength);
  NODE_SET_METHOD(exports, "threadsWithRwlock", ThreadsWithRwlock);
  NODE_SET_METHOD(exports, "globalResetRoundTrip", GlobalResetRoundTrip);
}

}  // namespace

NODE_MODULE(shim_probe, Init)
