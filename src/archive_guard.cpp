// Checks a torch archive's bytes before LibTorch's loader reads them (see archive_guard.h): the
// zip directory, the TorchScript source and the pickles, each against what torch writes for
// nca's own files.
#include "nca/archive_guard.h"

#include "nca/errors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <caffe2/serialize/inline_container.h>

namespace nca {
namespace {

std::runtime_error corrupt(const std::string& why) {
  return std::runtime_error("not a readable checkpoint (corrupt or truncated?): " + why);
}
std::runtime_error foreign(const std::string& why) {
  return std::runtime_error("not an nca file: " + why);
}

// What torch writes for nca's archives, and nothing else. An archive carries TorchScript source
// (code/*.py) that LibTorch's parser reads while loading, and that parser crashes on hostile
// source (found by fuzzing: a SEGV in ScriptTypeParser::parseClassConstant). nca's files only
// ever hold plain attribute classes, so every line is checked against that shape first.
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_identifier(const std::string& s) {
  return !s.empty() && !(s[0] >= '0' && s[0] <= '9') &&
         std::all_of(s.begin(), s.end(), is_name_char);
}
bool is_key(const std::string& s) {  // "model.channels", "params/0", "0x55d0c0ffee00"
  return !s.empty() && s.size() < 256 && std::all_of(s.begin(), s.end(), [](char c) {
    return is_name_char(c) || c == '.' || c == '/';
  });
}
// The classes torch writes for nca's modules: __torch__.Module or
// __torch__.___torch_mangle_N.Module, with `sep` before "Module" ('.' in TorchScript source, ' ' in
// a pickle's GLOBAL).
bool is_module_class(const std::string& name, char sep) {
  const std::string pre = "__torch__.___torch_mangle_", post = std::string(1, sep) + "Module";
  if (name == "__torch__" + post) return true;
  if (name.size() <= pre.size() + post.size() || name.compare(0, pre.size(), pre) != 0 ||
      name.compare(name.size() - post.size(), post.size(), post) != 0)
    return false;
  const std::string n = name.substr(pre.size(), name.size() - pre.size() - post.size());
  return n.size() < 6 &&
         std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
}
bool is_type(const std::string& t) {
  static const char* plain[] = {"int", "float", "str", "bool", "Tensor", "Tuple[float, float]"};
  for (const char* p : plain)
    if (t == p) return true;
  return is_module_class(t, '.');
}
bool starts_with(const std::string& s, const std::string& p) {
  return s.compare(0, p.size(), p) == 0;
}
// ["a", "b", ] as torch writes __parameters__ and __buffers__.
bool is_name_list(const std::string& s) {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') return false;
  std::string rest = s.substr(1, s.size() - 2);
  while (!rest.empty()) {
    if (rest.size() < 4 || rest[0] != '"') return false;
    const auto close = rest.find('"', 1);
    if (close == std::string::npos || !is_key(rest.substr(1, close - 1))) return false;
    if (rest.compare(close + 1, 2, ", ") != 0) return false;
    rest.erase(0, close + 3);
  }
  return true;
}
bool is_plain_class_line(const std::string& line) {
  if (line.empty() || line == "class Module(Module):" || line == "  __annotations__ = []")
    return true;
  for (const char* list : {"  __parameters__ = ", "  __buffers__ = "})
    if (starts_with(line, list)) return is_name_list(line.substr(std::strlen(list)));
  const std::string ann = "  __annotations__[\"";
  if (starts_with(line, ann)) {
    const auto close = line.find("\"] = ", ann.size());
    return close != std::string::npos && is_key(line.substr(ann.size(), close - ann.size())) &&
           is_type(line.substr(close + 5));
  }
  const auto colon = line.find(" : ");
  return starts_with(line, "  ") && colon != std::string::npos &&
         is_identifier(line.substr(2, colon - 2)) && is_type(line.substr(colon + 3));
}
// The bytes of a file held in memory, for torch's zip reader, which may ask for more than there
// is (caffe2's MemoryReadAdapter copies whatever is asked: found by fuzzing).
class BoundedReader final : public caffe2::serialize::ReadAdapterInterface {
 public:
  BoundedReader(const char* data, size_t size) : data_(data), size_(size) {}
  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= size_) return 0;
    const size_t got = std::min<size_t>(n, size_ - pos);
    std::memcpy(buf, data_ + pos, got);
    return got;
  }

 private:
  const char* data_;
  size_t size_;
};

bool is_plain_class_source(const char* text, size_t size) {
  std::string line;
  for (size_t i = 0; i <= size; ++i) {
    if (i == size || text[i] == '\n') {
      if (!is_plain_class_line(line)) return false;
      line.clear();
    } else {
      line += text[i];
    }
  }
  return true;
}

// ---- The zip directory -------------------------------------------------------------------------
// torch's reader (miniz) allocates the unpacked size a record claims before unpacking it, and
// offers no way to ask for that size first, so the directory is read here too. Both readers must
// then agree on the names, their order and where each record's data starts, so the sizes checked
// here are the ones torch will use.

uint64_t le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct ZipRecord {
  std::string name;  // without the archive's top folder, as torch's reader names it
  uint64_t unpacked = 0;
  uint64_t data_offset = 0;
};

constexpr uint64_t kMaxDeflatedRecord = uint64_t{16} << 20;
constexpr uint64_t kMaxRecords = 100000;

std::vector<ZipRecord> read_zip_directory(const unsigned char* d, uint64_t n) {
  const auto bad = [](const std::string& what) { return corrupt("its zip directory " + what); };
  constexpr uint64_t kEnd = 22, kLocator = 20, kEnd64 = 56, kEntry = 46, kLocal = 30;
  if (n < kEnd) throw bad("is missing");
  // The last end-of-directory signature with room for the record after it, as miniz finds it.
  uint64_t end = n - kEnd + 1;
  const uint64_t lowest = n - kEnd > 0xFFFF ? n - kEnd - 0xFFFF : 0;
  do {
    --end;
    if (le(d + end, 4) == 0x06054b50) break;
    if (end == lowest) throw bad("is missing");
  } while (true);
  uint64_t entries = le(d + end + 10, 2), dir_size = le(d + end + 12, 4),
           dir_offset = le(d + end + 16, 4);
  if (end >= kLocator && le(d + end - kLocator, 4) == 0x07064b50) {
    const uint64_t at = le(d + end - kLocator + 8, 8);
    if (n < kEnd64 || at > n - kEnd64 || le(d + at, 4) != 0x06064b50)
      throw bad("has a broken zip64 record");
    entries = le(d + at + 32, 8);
    dir_size = le(d + at + 40, 8);
    dir_offset = le(d + at + 48, 8);
  }
  if (entries > kMaxRecords || dir_offset > n || dir_size > n - dir_offset)
    throw bad("claims more than the file holds");
  std::vector<ZipRecord> records;
  const unsigned char* p = d + dir_offset;
  const unsigned char* dir_end = p + dir_size;
  for (uint64_t i = 0; i < entries; ++i) {
    if (dir_end - p < static_cast<std::ptrdiff_t>(kEntry) || le(p, 4) != 0x02014b50)
      throw bad("is cut short");
    const uint64_t method = le(p + 10, 2), packed = le(p + 20, 4), unpacked = le(p + 24, 4),
                   name_len = le(p + 28, 2), extra_len = le(p + 30, 2), comment_len = le(p + 32, 2),
                   local = le(p + 42, 4);
    if (static_cast<uint64_t>(dir_end - p) < kEntry + name_len + extra_len + comment_len)
      throw bad("is cut short");
    std::string name(reinterpret_cast<const char*>(p + kEntry), name_len);
    p += kEntry + name_len + extra_len + comment_len;
    // nca's files are far below 4 GB, so the zip64 per-record fields are never needed.
    if (packed == 0xFFFFFFFF || unpacked == 0xFFFFFFFF || local == 0xFFFFFFFF)
      throw bad("has a record of 4 GB or more: " + excerpt(name));
    const auto slash = name.find('/');
    if (slash == std::string::npos || name.size() > 255 || name.find('\0') != std::string::npos)
      throw bad("has a record with an unusable name");
    name.erase(0, slash + 1);
    if (method != 0 && method != 8)
      throw bad("has a record packed in an unknown way: " + excerpt(name));
    if (method == 0 ? packed != unpacked : unpacked > kMaxDeflatedRecord)
      throw bad("has a record that claims " + std::to_string(unpacked) +
                " bytes: " + excerpt(name));
    if (n < kLocal || local > n - kLocal || le(d + local, 4) != 0x04034b50)
      throw bad("points outside the file for " + excerpt(name));
    const uint64_t data = local + kLocal + le(d + local + 26, 2) + le(d + local + 28, 2);
    if (data > n || packed > n - data) throw bad("points outside the file for " + excerpt(name));
    records.push_back({name, unpacked, data});
  }
  return records;
}

// ---- Pickles -----------------------------------------------------------------------------------
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
    if (take(1) != 0x80 || take(1) != 2) throw fail("does not start as torch's pickles do");
    while (true) {
      const unsigned op = take(1);
      switch (op) {
        case '.':  // STOP
          if (stack_.size() != 1 || !marks_.empty() || p_ != end_)
            throw fail("does not end as a pickle should");
          return;
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case ')':
          push(make(Value::Tuple));
          break;  // EMPTY_TUPLE
        case 't':
          push(tuple(pop_mark()));
          break;  // TUPLE
        case 0x85:
        case 0x86:
        case 0x87:
          push(tuple(pop_n(op - 0x84)));
          break;  // TUPLE1..3
        case ']':
          push(make(Value::List));
          break;  // EMPTY_LIST
        case 'a':
          add_to(Value::List, pop_n(1));
          break;  // APPEND
        case 'e':
          add_to(Value::List, pop_mark());
          break;  // APPENDS
        case '}':
          push(make(Value::Dict));
          break;  // EMPTY_DICT
        case 's':
          add_to(Value::Dict, pop_n(2));
          break;     // SETITEM
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          if (items.size() % 2) throw fail("has a dictionary with a key but no value");
          add_to(Value::Dict, std::move(items));
          break;
        }
        case 'K':
          push(integer(static_cast<int64_t>(take(1))));
          break;  // BININT1
        case 'M':
          push(integer(static_cast<int64_t>(take(2))));
          break;  // BININT2
        case 'J':
          push(integer(static_cast<int32_t>(take(4))));
          break;      // BININT
        case 0x8a: {  // LONG1
          const unsigned n = take(1);
          if (n > 8) throw fail("has an integer too large for 64 bits");
          uint64_t v = n ? take(n) : 0;
          if (n > 0 && n < 8 && (v >> (8 * n - 1))) v |= ~uint64_t{0} << (8 * n);  // sign
          push(integer(static_cast<int64_t>(v)));
          break;
        }
        case 'G':
          need(8);
          p_ += 8;
          push(make(Value::Float));
          break;     // BINFLOAT
        case 'X': {  // BINUNICODE
          const uint64_t n = take(4);
          if (n > static_cast<uint64_t>(end_ - p_))
            throw fail("has a string that claims " + std::to_string(n) + " bytes where " +
                       std::to_string(end_ - p_) + " are left");
          auto v = make(Value::Str);
          v->text.assign(reinterpret_cast<const char*>(p_), n);
          p_ += n;
          push(v);
          break;
        }
        case 'N':
          push(make(Value::None));
          break;
        case 0x88:
        case 0x89:
          push(make(Value::Bool));
          break;  // NEWTRUE, NEWFALSE
        case 'q':
          memo_put(take(1));
          break;  // BINPUT
        case 'r':
          memo_put(take(4));
          break;  // LONG_BINPUT
        case 'h':
          memo_get(take(1));
          break;  // BINGET
        case 'j':
          memo_get(take(4));
          break;  // LONG_BINGET
        case 'c':
          global();
          break;  // GLOBAL
        case 'R':
          reduce();
          break;      // REDUCE
        case 0x81: {  // NEWOBJ
          auto args = pop_n(2);
          if (args[0]->kind != Value::Global || !is_module_class(args[0]->text, ' ') ||
              args[1]->kind != Value::Tuple || !args[1]->items.empty())
            throw fail("builds an object that is not one of nca's modules");
          push(make(Value::Object));
          break;
        }
        case 'b': {  // BUILD: an object's attributes
          pop_n(1);
          if (stack_.empty() || stack_.back()->kind != Value::Object)
            throw fail("sets attributes on something that is not a module");
          break;
        }
        case 'Q':
          persistent_id();
          break;  // BINPERSID
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

bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

}  // namespace

void check_archive(const char* data, size_t size) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  try {
    caffe2::serialize::PyTorchStreamReader zip(std::make_shared<BoundedReader>(data, size));
    const auto records = read_zip_directory(bytes, size);
    const auto names = zip.getAllRecords();
    std::map<std::string, uint64_t> sizes;
    bool same = names.size() == records.size();
    for (size_t i = 0; same && i < records.size(); ++i) {
      same = names[i] == records[i].name &&
             sizes.emplace(records[i].name, records[i].unpacked).second &&
             zip.getRecordOffset(names[i]) == records[i].data_offset;
    }
    if (!same) throw corrupt("its zip directory reads two ways");
    for (const auto& r : records) {
      const bool pickle = ends_with(r.name, ".pkl") || ends_with(r.name, ".debug_pkl");
      const bool code = starts_with(r.name, "code/") && !pickle;
      if (!code && !pickle) continue;
      if (r.unpacked > (uint64_t{1} << 20) && code)
        throw foreign("it holds TorchScript code (" + excerpt(r.name) + ")");
      auto [got, n] = zip.getRecord(r.name);
      const char* text = static_cast<const char*>(got.get());
      if (code && !is_plain_class_source(text, n))
        throw foreign("it holds TorchScript code (" + excerpt(r.name) + ")");
      if (pickle) {
        const std::string prefix = r.name == "data.pkl"        ? "data/"
                                   : r.name == "constants.pkl" ? "constants/"
                                                               : "";
        PickleCheck(excerpt(r.name), reinterpret_cast<const unsigned char*>(text), n, prefix, sizes)
            .run();
      }
    }
  } catch (const c10::Error& e) {
    throw corrupt(first_line(e));
  }
}

}  // namespace nca
