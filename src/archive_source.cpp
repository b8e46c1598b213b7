// The TorchScript-source check of the archive guard (archive_checks.h): what torch writes for nca's
// archives, and nothing else.
#include <algorithm>
#include <cstring>
#include <string>

#include "archive_checks.h"

namespace nca::archive {
namespace {

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

}  // namespace

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

}  // namespace nca::archive
