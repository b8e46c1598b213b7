// Pictures for people watching a run: the loss curve (log10 loss against iteration), the batch
// before and after its rollout beside the target, and text drawn with stb_easy_font.
#pragma once

#include <string>
#include <vector>

#include "nca/image_io.h"

namespace nca {

// A white RgbImage of the given size.
RgbImage blank_image(int width, int height);

// Draws text with its top-left corner at (x, y), each font pixel `scale` pixels wide.
void draw_text(RgbImage& img, int x, int y, const std::string& text, const uint8_t rgb[3],
               int scale = 1);
// The size draw_text gives `text` at `scale`, descenders included.
int text_width(const std::string& text, int scale = 1);
int text_height(const std::string& text, int scale = 1);

// A labelled vertical line on the loss curve, such as a change of learning rate.
struct PlotMark {
  double iteration = 0;
  std::string label;  // e.g. "lr x0.1"
};

// A mark at every iteration whose learning rate differs from the one before, labelled with the
// factor ("lr x0.1"), or with the new rate when the one before was 0. `iterations` and `lrs`
// run in parallel; the first iteration gets no mark.
std::vector<PlotMark> lr_change_marks(const std::vector<double>& iterations,
                                      const std::vector<double>& lrs);

// How many of the last iterations the loss curve's title averages over.
constexpr int kTitleMeanOf = 100;

// The loss curve's title: the mean log10 loss of the last kTitleMeanOf finite points (fewer
// when there are fewer), which says more than one noisy iteration, and the last iteration.
std::string loss_title(const std::vector<double>& iterations,
                       const std::vector<double>& log10_loss);

// log10(loss) against iteration, with gridlines at half decades, labelled axes, loss_title()
// above, and a dashed line for each mark. Points that are not finite are skipped.
RgbImage plot_loss_curve(const std::vector<double>& iterations,
                         const std::vector<double>& log10_loss,
                         const std::vector<PlotMark>& marks = {}, int width = 800,
                         int height = 450);

// The batch picture of a training run: the states before their rollout in one row, the same
// states after it in the row below, each row labelled on the left, and the target on the right
// labelled "target"; every cell `scale` times enlarged and framed in kCellGap. Cells and target
// must have one size. Throws std::runtime_error when the sizes differ or the result is too big.
RgbImage batch_picture(const std::vector<RgbImage>& before, const std::vector<RgbImage>& after,
                       const RgbImage& target, int scale = 2);

}  // namespace nca
