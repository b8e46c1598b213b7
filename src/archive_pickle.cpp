// The pickle check of the archive guard (archive_checks.h).
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "archive_checks.h"
#include "nca/errors.h"

namespace nca::archive {
namespace {

// torch's unpickler trusts what a file claims: it allocates a string's length and grows its memo
// to any slot index, and builds tensor views that reach past their storage. So each pickle is
// run here first on a small model of the unpickler's stack, that knows only what torch's
// pickler writes for nca.

struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Value {
  enum Kind { Int, Float, Str, Bool, None, Global, Tuple, List, Dict, Object, Storage, Tensor };
  Kind kind;
  int64_t number = 0;           // Int: its value; Storage: its element count
  std::string text;             // Str; Global: "module name"
  std::vector<ValuePtr> items;  // Tuple; List (ints only: build_intlist's argument)
  int depth = 1;                // nesting: torch's IValue destructors recurse
};

// The opcodes torch's pickler writes for nca's files (protocol 2), named as in Python's
// pickle.py and PyTorch's own pickler (torch/csrc/jit/serialization/pickler.h). Any other is
// refused.
enum class Op : unsigned char {
  Proto = 0x80,
  Stop = '.',
  Mark = '(',
  EmptyTuple = ')',
  Tuple = 't',
  Tuple1 = 0x85,
  Tuple2 = 0x86,
  Tuple3 = 0x87,
  EmptyList = ']',
  Append = 'a',
  Appends = 'e',
  EmptyDict = '}',
  SetItem = 's',
  SetItems = 'u',
  BinInt1 = 'K',
  BinInt2 = 'M',
  BinInt = 'J',
  Long1 = 0x8a,
  BinFloat = 'G',
  BinUnicode = 'X',
  None = 'N',
  NewTrue = 0x88,
  NewFalse = 0x89,
  BinPut = 'q',
  LongBinPut = 'r',
  BinGet = 'h',
  LongBinGet = 'j',
  Global = 'c',
  Reduce = 'R',
  NewObj = 0x81,
  Build = 'b',
  BinPersId = 'Q',
};

constexpr int kMaxDepth = 64;
constexpr size_t kMaxDims = 16;

int64_t storage_item_size(const std::string& global) {
  static const std::map<std::string, int64_t> sizes = {
      {"torch FloatStorage", 4},    {"torch DoubleStorage", 8}, {"torch HalfStorage", 2},
      {"torch BFloat16Storage", 2}, {"torch LongStorage", 8},   {"torch IntStorage", 4},
      {"torch ShortStorage", 2},    {"torch CharStorage", 1},   {"torch ByteStorage", 1},
      {"torch BoolStorage", 1}};
  const auto it = sizes.find(global);
  return it == sizes.end() ? 0 : it->second;
}

class PickleCheck {
 public:
  // `storages`: record name -> unpacked size, for the records a storage may name (prefix +
  // key: "data/0"); empty where the pickle holds no tensors.
  PickleCheck(const std::string& name, const unsigned char* data, size_t size, std::string prefix,
              const std::map<std::string, uint64_t>& records)
      : name_(name), p_(data), end_(data + size), prefix_(std::move(prefix)), records_(records) {}

  void run() {
    if (take(1) != static_cast<unsigned>(Op::Proto) || take(1) != 2)
      throw fail("does not start as torch's pickles do");
    while (true) {
      const auto op = static_cast<unsigned>(take(1));
      switch (static_cast<Op>(op)) {
        case Op::Stop:
          if (stack_.size() != 1 || !marks_.empty() || p_ != end_)
            throw fail("does not end as a pickle should");
          return;
        case Op::Mark:
          marks_.push_back(stack_.size());
          break;
        case Op::EmptyTuple:
          push(make(Value::Tuple));
          break;
        case Op::Tuple:
          push(tuple(pop_mark()));
          break;
        case Op::Tuple1:
        case Op::Tuple2:
        case Op::Tuple3:
          push(tuple(pop_n(op - static_cast<unsigned>(Op::Tuple1) + 1)));
          break;
        case Op::EmptyList:
          push(make(Value::List));
          break;
        case Op::Append:
          add_to(Value::List, pop_n(1));
          break;
        case Op::Appends:
          add_to(Value::List, pop_mark());
          break;
        case Op::EmptyDict:
          push(make(Value::Dict));
          break;
        case Op::SetItem:
          add_to(Value::Dict, pop_n(2));
          break;
        case Op::SetItems:
          set_items();
          break;
        case Op::BinInt1:
          push(integer(static_cast<int64_t>(take(1))));
          break;
        case Op::BinInt2:
          push(integer(static_cast<int64_t>(take(2))));
          break;
        case Op::BinInt:
          push(integer(static_cast<int32_t>(take(4))));
          break;
        case Op::Long1:
          long1();
          break;
        case Op::BinFloat:
          need(8);
          p_ += 8;
          push(make(Value::Float));
          break;
        case Op::BinUnicode:
          bin_unicode();
          break;
        case Op::None:
          push(make(Value::None));
          break;
        case Op::NewTrue:
        case Op::NewFalse:
          push(make(Value::Bool));
          break;
        case Op::BinPut:
          memo_put(take(1));
          break;
        case Op::LongBinPut:
          memo_put(take(4));
          break;
        case Op::BinGet:
          memo_get(take(1));
          break;
        case Op::LongBinGet:
          memo_get(take(4));
          break;
        case Op::Global:
          global();
          break;
        case Op::Reduce:
          reduce();
          break;
        case Op::NewObj:
          new_object();
          break;
        case Op::Build:  // an object's attributes
          pop_n(1);
          if (stack_.empty() || stack_.back()->kind != Value::Object)
            throw fail("sets attributes on something that is not a module");
          break;
        case Op::BinPersId:
          persistent_id();
          break;
        default:
          throw foreign(name_ + " holds pickle opcode " + std::to_string(op) +
                        ", which torch does not write for nca's files");
      }
    }
  }

 private:
  std::runtime_error fail(const std::string& why) const { return corrupt(name_ + " " + why); }

  void need(uint64_t n) const {
    if (n > static_cast<uint64_t>(end_ - p_)) throw fail("is cut short");
  }
  uint64_t take(int bytes) {
    need(bytes);
    const uint64_t v = le(p_, bytes);
    p_ += bytes;
    return v;
  }

  static std::shared_ptr<Value> make(Value::Kind kind) {
    auto v = std::make_shared<Value>();
    v->kind = kind;
    return v;
  }
  static std::shared_ptr<Value> integer(int64_t n) {
    auto v = make(Value::Int);
    v->number = n;
    return v;
  }
  std::shared_ptr<Value> tuple(std::vector<ValuePtr> items) const {
    auto v = make(Value::Tuple);
    for (const auto& item : items) v->depth = std::max(v->depth, item->depth + 1);
    if (v->depth > kMaxDepth)
      throw fail("nests values more than " + std::to_string(kMaxDepth) + " deep");
    v->items = std::move(items);
    return v;
  }

  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<ValuePtr> pop_n(size_t n) {
    if (stack_.size() - floor() < n) throw fail("takes more values than it pushed");
    std::vector<ValuePtr> out(stack_.end() - n, stack_.end());
    stack_.resize(stack_.size() - n);
    return out;
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) throw fail("closes a group it never opened");
    std::vector<ValuePtr> out(stack_.begin() + marks_.back(), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return out;
  }

  // Lists hold only ints (torch writes them for build_intlist), so no list can hold itself;
  // dictionaries and objects are kept opaque.
  void add_to(Value::Kind kind, std::vector<ValuePtr> items) {
    if (stack_.size() <= floor() || stack_.back()->kind != kind)
      throw fail(kind == Value::List ? "appends to something that is not a list"
                                     : "sets items on something that is not a dictionary");
    if (kind != Value::List) return;
    for (const auto& item : items)
      if (item->kind != Value::Int) throw fail("puts something other than ints in a list");
    auto& list = stack_.back()->items;
    list.insert(list.end(), items.begin(), items.end());
  }

  void set_items() {
    auto items = pop_mark();
    if (items.size() % 2) throw fail("has a dictionary with a key but no value");
    add_to(Value::Dict, std::move(items));
  }

  void long1() {
    const auto n = static_cast<unsigned>(take(1));
    if (n > 8) throw fail("has an integer too large for 64 bits");
    uint64_t v = n ? take(n) : 0;
    if (n > 0 && n < 8 && (v >> (8 * n - 1))) v |= ~uint64_t{0} << (8 * n);  // sign
    push(integer(static_cast<int64_t>(v)));
  }

  void bin_unicode() {
    const uint64_t n = take(4);
    if (n > static_cast<uint64_t>(end_ - p_))
      throw fail("has a string that claims " + std::to_string(n) + " bytes where " +
                 std::to_string(end_ - p_) + " are left");
    auto v = make(Value::Str);
    v->text.assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    push(v);
  }

  void new_object() {
    auto args = pop_n(2);
    if (args[0]->kind != Value::Global || !is_module_class(args[0]->text, ' ') ||
        args[1]->kind != Value::Tuple || !args[1]->items.empty())
      throw fail("builds an object that is not one of nca's modules");
    push(make(Value::Object));
  }

  // torch's unpickler grows its memo to the index a file names: only the next slot or a used one.
  void memo_put(uint64_t id) {
    if (stack_.empty()) throw fail("stores a value it never pushed");
    if (id > memo_.size()) throw fail("stores a value at memo slot " + std::to_string(id));
    if (id == memo_.size())
      memo_.push_back(stack_.back());
    else
      memo_[id] = stack_.back();
  }
  void memo_get(uint64_t id) {
    if (id >= memo_.size()) throw fail("reads memo slot " + std::to_string(id) + ", never stored");
    push(memo_[id]);
  }

  std::string line() {
    const unsigned char* stop = p_ + std::min<std::ptrdiff_t>(end_ - p_, 256);
    const unsigned char* nl = std::find(p_, stop, '\n');
    if (nl == stop) throw fail("has an unterminated or overlong global name");
    std::string s(reinterpret_cast<const char*>(p_), nl - p_);
    p_ = nl + 1;
    return s;
  }
  void global() {
    const std::string module = line();
    const std::string name = module + " " + line();
    if (!is_module_class(name, ' ') && !storage_item_size(name) &&
        name != "torch._utils _rebuild_tensor_v2" && name != "collections OrderedDict" &&
        name != "torch.jit._pickle build_intlist")
      throw foreign(name_ + " names '" + excerpt(name) +
                    "', which torch does not write for nca's files");
    auto v = make(Value::Global);
    v->text = name;
    push(v);
  }

  void reduce() {
    const auto parts = pop_n(2);
    const Value& fn = *parts[0];
    const Value& args = *parts[1];
    if (fn.kind != Value::Global || args.kind != Value::Tuple)
      throw fail("calls something that is not a known function");
    if (fn.text == "collections OrderedDict" && args.items.empty()) {
      push(make(Value::Dict));
    } else if (fn.text == "torch.jit._pickle build_intlist" && args.items.size() == 1 &&
               args.items[0]->kind == Value::List &&
               std::all_of(args.items[0]->items.begin(), args.items[0]->items.end(),
                           [](const ValuePtr& v) { return v->kind == Value::Int; })) {
      push(make(Value::List));
    } else if (fn.text == "torch._utils _rebuild_tensor_v2") {
      check_tensor(args.items);
      push(make(Value::Tensor));
    } else {
      throw fail("calls " + fn.text + " with arguments it does not take");
    }
  }

  // ('storage', torch.XStorage, key, location, numel): the record data/<key> must hold it.
  void persistent_id() {
    const auto id = pop_n(1)[0];
    const auto& it = id->items;
    if (id->kind != Value::Tuple || it.size() != 5 || it[0]->kind != Value::Str ||
        it[0]->text != "storage" || it[1]->kind != Value::Global || it[2]->kind != Value::Str ||
        it[3]->kind != Value::Str || it[3]->text.size() > 32 || it[4]->kind != Value::Int)
      throw fail("refers to something that is not a tensor storage");
    const std::string key = excerpt(it[2]->text, 40);  // for messages
    const int64_t item = storage_item_size(it[1]->text);
    const auto record = prefix_.empty() ? records_.end() : records_.find(prefix_ + it[2]->text);
    if (!item || record == records_.end())
      throw fail("refers to a storage it does not hold: " + key);
    const int64_t numel = it[4]->number;
    if (numel < 0 || static_cast<uint64_t>(numel) > record->second / item)
      throw fail("claims " + std::to_string(numel) + " elements for storage " + key +
                 ", which holds " + std::to_string(record->second) + " bytes");
    // torch keeps one storage per key: every mention must agree on its type and size.
    const auto [seen, fresh] = storages_.emplace(it[2]->text, std::make_pair(item, numel));
    if (!fresh && seen->second != std::make_pair(item, numel))
      throw fail("gives storage " + key + " two different shapes");
    auto v = make(Value::Storage);
    v->number = numel;
    push(v);
  }

  // _rebuild_tensor_v2(storage, offset, sizes, strides, requires_grad, hooks): torch does not
  // check that the view fits its storage, so it must here, and hold no more elements.
  void check_tensor(const std::vector<ValuePtr>& a) const {
    const auto ints = [](const ValuePtr& t) {
      return t->kind == Value::Tuple && t->items.size() <= kMaxDims &&
             std::all_of(t->items.begin(), t->items.end(),
                         [](const ValuePtr& v) { return v->kind == Value::Int && v->number >= 0; });
    };
    if (a.size() != 6 || a[0]->kind != Value::Storage || a[1]->kind != Value::Int ||
        a[1]->number < 0 || !ints(a[2]) || !ints(a[3]) ||
        a[2]->items.size() != a[3]->items.size() || a[4]->kind != Value::Bool)
      throw fail("builds a tensor from arguments torch does not write");
    const uint64_t storage = static_cast<uint64_t>(a[0]->number);
    const auto& sizes = a[2]->items;
    const auto& strides = a[3]->items;
    if (std::any_of(sizes.begin(), sizes.end(), [](const ValuePtr& v) { return v->number == 0; }))
      return;  // no elements: nothing to read
    // Each term is below storage^2 once size and stride are at most storage, so nothing overflows.
    uint64_t count = 1, last = std::min(static_cast<uint64_t>(a[1]->number), storage);
    for (size_t i = 0; i < sizes.size(); ++i) {
      const auto size = static_cast<uint64_t>(sizes[i]->number);
      const auto stride = static_cast<uint64_t>(strides[i]->number);
      if (size > storage || (size > 1 && stride > storage) || (count *= size) > storage)
        throw fail("builds a tensor larger than its storage");
      last = std::min(last + (size - 1) * stride, storage);
    }
    if (last >= storage) throw fail("builds a tensor larger than its storage");
  }

  std::string name_;
  const unsigned char* p_;
  const unsigned char* end_;
  std::string prefix_;
  const std::map<std::string, uint64_t>& records_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::vector<ValuePtr> memo_;
  std::map<std::string, std::pair<int64_t, int64_t>> storages_;
};

}  // namespace

void check_pickle(const std::string& name, const unsigned char* data, size_t size,
                  const std::string& prefix, const std::map<std::string, uint64_t>& records) {
  PickleCheck(name, data, size, prefix, records).run();
}

}  // namespace nca::archive
