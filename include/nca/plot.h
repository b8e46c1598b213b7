// Pictures for people watching a run: the loss curve (log10 loss against iteration) and text
// drawn with stb_easy_font.
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

// log10(loss) against iteration, with gridlines at whole powers of ten, axis labels and the
// last value in the title. Points that are not finite are skipped.
RgbImage plot_loss_curve(const std::vector<double>& iterations,
                         const std::vector<double>& log10_loss, int width = 640, int height = 360);

}  // namespace nca
