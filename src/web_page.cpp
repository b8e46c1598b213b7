// The web demo page: the template (src/web/page.html, compiled in by cmake/embed_text.cmake)
// with the model's config and weights filled in as JSON, the weights as base64 float32.
#include "nca/web_page.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "nca/atomic_file.h"
#include "nca/errors.h"

namespace nca {

extern const char* const kWebPageTemplate;  // generated from src/web/page.html

namespace {

constexpr const char* kPlaceholder = "@NCA_MODEL_JSON@";

// A JSON string literal. '<' is escaped too, so that no text can close the <script> element
// the JSON sits in.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Little-endian float32 bytes of a tensor, base64-encoded.
std::string tensor_base64(const torch::Tensor& t) {
  const auto values = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  std::string bytes(static_cast<size_t>(values.numel()) * 4, '\0');
  const float* p = values.data_ptr<float>();
  for (int64_t i = 0; i < values.numel(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, 4);
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  return base64(bytes.data(), bytes.size());
}

std::string model_json(const NCAModel& model, const WebPageOptions& o) {
  const ModelConfig& cfg = model->config();
  const Weights w = model->weights();
  // The buffer repeats the F filters once per channel (channel-major); the page needs one copy.
  const auto kernels = w.kernels.slice(0, 0, cfg.filters());
  std::string j = "{";
  j += "\"description\":" + json_string(o.description);
  j += ",\"width\":" + std::to_string(o.width);
  j += ",\"height\":" + std::to_string(o.height);
  j += ",\"channels\":" + std::to_string(cfg.channels);
  j += ",\"hidden\":" + std::to_string(cfg.hidden);
  j += ",\"filters\":" + std::to_string(cfg.filters());
  j += ",\"perception\":" + json_string(to_string(cfg.perception));
  j += ",\"fireRate\":" + json_number(cfg.fire_rate);
  j += ",\"aliveThreshold\":" + json_number(cfg.alive_threshold);
  j += ",\"kernels\":" + json_string(tensor_base64(kernels));
  j += ",\"w1\":" + json_string(tensor_base64(w.w1));
  j += ",\"b1\":" + json_string(tensor_base64(w.b1));
  j += ",\"w2\":" + json_string(tensor_base64(w.w2));
  // The last layer's bias, only where the model has one (Arch::Distill).
  if (w.b2.defined()) j += ",\"b2\":" + json_string(tensor_base64(w.b2));
  return j + "}";
}

}  // namespace

std::string web_page(const NCAModel& model, const WebPageOptions& options) {
  // Below 3 cells there is no neighbourhood; far above 512 the page crawls and eats memory.
  if (options.width < 3 || options.height < 3 || options.width > 512 || options.height > 512)
    throw UsageError("grid " + std::to_string(options.width) + "x" +
                     std::to_string(options.height) +
                     " for the web page: each side must be 3..512");
  std::string page = kWebPageTemplate;
  const auto at = page.find(kPlaceholder);
  if (at == std::string::npos) throw std::logic_error("web page template has no model slot");
  page.replace(at, std::strlen(kPlaceholder), model_json(model, options));
  return page;
}

void check_web_folder(const std::string& out_dir) {
  namespace fs = std::filesystem;
  const fs::path page = fs::path(out_dir) / "index.html";
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    throw UsageError("--web '" + excerpt(out_dir) + "' is " + kind_of_file(out_dir) +
                     ", not a directory: --web names the folder for index.html");
  if (!fs::exists(fs::symlink_status(page, ec))) return;
  check_replaceable(page.string());
  std::ifstream in(page, std::ios::binary);
  std::string head(512, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.find(kWebPageMark) == std::string::npos)
    throw UsageError("--web '" + excerpt(out_dir) +
                     "' holds an index.html that nca did not write: nca replaces only its own "
                     "pages; choose a new or empty folder");
}

std::string export_web_page(const NCAModel& model, const std::string& out_dir,
                            const WebPageOptions& options) {
  namespace fs = std::filesystem;
  const std::string page = web_page(model, options);
  check_web_folder(out_dir);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw std::runtime_error("cannot create directory '" + out_dir + "': " + ec.message());
  const std::string path = (fs::path(out_dir) / "index.html").string();
  write_text_atomically(path, page);
  return path;
}

}  // namespace nca
