/* Stand-in for pillow-heif's libx265, the HEVC *encoder* (22 MB), used by the bundle
 * (packaging/bundle_config.py: x265_stub). PhotoSort only decodes HEIC, which libheif does with
 * libde265; libheif's x265 encoder plugin is the only user of libx265, and it asks
 * x265_api_get_<build>() for the encoder. Returning NULL makes libheif report that HEVC
 * encoding is unavailable (pillow-heif raises on save) instead of crashing.
 *
 * Built with -DX265_API_GET=x265_api_get_217 (the name libheif imports) and the wheel's soname.
 */
#include <stddef.h>

#ifndef X265_API_GET
#error "define X265_API_GET, e.g. -DX265_API_GET=x265_api_get_217"
#endif

const void *X265_API_GET(int bit_depth)
{
    (void)bit_depth;
    return NULL;
}

void x265_cleanup(void) {}
