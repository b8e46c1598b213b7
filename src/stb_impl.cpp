// The stb image libraries nca uses, compiled here from Debian's headers instead of linked from
// its libstb: the decoder is limited to the formats nca documents (PNG, BMP, TGA, GIF), so the
// JPEG, PSD, HDR, PIC and PNM decoders are not there for a hostile file to reach, and the code is
// built with nca's own flags, so the sanitizer and fuzzing builds instrument it too. JPEG went
// out after fuzzing: Debian's stb_image 2.27 writes past its Huffman tables on a DHT segment
// whose code counts add up to more than 256 (fixed upstream in 2.28), and a JPEG cannot hold
// the transparency a target needs anyway.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_ONLY_GIF
// No side of an accepted image comes near this (load_target takes at most 2^26 pixels); stb's
// own default is 2^24.
#define STBI_MAX_DIMENSIONS (1 << 16)
#include <stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>
