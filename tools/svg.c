/* vswap inspect --svg: the store as a picture, for people who would rather
 * look than read.  Written directly as SVG text: two maps of the data
 * segments (one cell each, in medium order), coloured by live fraction and
 * by erase count, and a histogram of erase counts.  Every cell carries its
 * figures as data-* attributes and a <title> (the tooltip), so that tests
 * and scripts can read the picture as well as look at it.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

#define WIDTH 960
#define MARGIN 20
#define MAP_WIDTH (WIDTH - 2 * MARGIN)
#define MAX_CELL 24
#define HISTOGRAM_HEIGHT 120
#define HISTOGRAM_BARS 40
#define FONT "font-family=\"sans-serif\""

/* Free segments, whatever their wear: light grey. */
#define FREE_COLOUR "#e4e4e4"

struct rgb {
  double r, g, b;
};

/* Colour ramps, low to high: live fraction (pale yellow to dark brown)
 * and erase count (pale to dark blue).  Both read in grey print. */
static const struct rgb live_ramp[] = {
  { 0xff, 0xf7, 0xbc }, { 0xfe, 0xc4, 0x4f }, { 0xec, 0x70, 0x14 },
  { 0x99, 0x34, 0x04 }, { 0x4d, 0x1a, 0x02 },
};
static const struct rgb wear_ramp[] = {
  { 0xf7, 0xfb, 0xff }, { 0xc6, 0xdb, 0xef }, { 0x6b, 0xae, 0xd6 },
  { 0x21, 0x71, 0xb5 }, { 0x08, 0x30, 0x6b },
};
#define RAMP_STOPS 5

/* The colour at X (0 to 1) along RAMP, as "#rrggbb" in BUFFER. */
static const char *
ramp_colour (const struct rgb ramp[RAMP_STOPS], double x, char buffer[8])
{
  double position, part;
  unsigned i;

  if (!(x > 0))
    x = 0;
  if (x > 1)
    x = 1;
  position = x * (RAMP_STOPS - 1);
  i = (unsigned) position;
  if (i >= RAMP_STOPS - 1)
    i = RAMP_STOPS - 2;
  part = position - i;
  snprintf (buffer, 8, "#%02x%02x%02x",
            (unsigned) lround (ramp[i].r + (ramp[i + 1].r - ramp[i].r) * part),
            (unsigned) lround (ramp[i].g + (ramp[i + 1].g - ramp[i].g) * part),
            (unsigned) lround (ramp[i].b + (ramp[i + 1].b - ramp[i].b) * part));
  return buffer;
}

static const char *
state_name (const struct vswap_segment_info *s, bool reserve)
{
  if (s->open)
    return "open";
  if (s->releasing)
    return "releasing";
  if (s->free)
    return reserve ? "reserve" : "free";
  return "closed";
}

/* Mark the RESERVE most worn free segments (the writers take the least
 * worn first; a tie goes to the later segment).  O(n log n) would do, but
 * the reserve is a handful: RESERVE passes over the table. */
static void
mark_reserve (const struct vswap_segment_info *segments, uint64_t count,
              uint32_t reserve, bool *marked)
{
  for (uint32_t k = 0; k < reserve; k++) {
    int64_t best = -1;

    for (uint64_t i = 0; i < count; i++) {
      if (!segments[i].free || segments[i].releasing || segments[i].open
          || marked[i])
        continue;
      if (best < 0 || segments[i].erase_count >= segments[best].erase_count)
        best = (int64_t) i;
    }
    if (best < 0)
      return;
    marked[best] = true;
  }
}

struct layout {
  uint64_t columns, rows;
  unsigned cell;                /* pixels, gap included */
};

/* As many columns as fit cells of at least 6 pixels, and square-ish maps
 * for small stores. */
static struct layout
map_layout (uint64_t count)
{
  struct layout l;

  l.columns = (uint64_t) ceil (sqrt ((double) count) * 2);
  if (l.columns > MAP_WIDTH / 6)
    l.columns = MAP_WIDTH / 6;
  if (l.columns > count)
    l.columns = count;
  if (l.columns == 0)
    l.columns = 1;
  l.cell = MAP_WIDTH / l.columns;
  if (l.cell > MAX_CELL)
    l.cell = MAX_CELL;
  l.rows = (count + l.columns - 1) / l.columns;
  return l;
}

/* A colour scale under a map: LOW and HIGH labels, NAME above. */
static void
scale (FILE *f, double y, const struct rgb ramp[RAMP_STOPS],
       const char *low, const char *high)
{
  char colour[8];

  for (unsigned i = 0; i < 50; i++)
    fprintf (f, "<rect x=\"%u\" y=\"%.0f\" width=\"4\" height=\"10\" "
             "fill=\"%s\"/>\n", MARGIN + i * 4, y,
             ramp_colour (ramp, i / 49.0, colour));
  fprintf (f, "<text x=\"%u\" y=\"%.0f\" font-size=\"11\" %s>%s</text>\n",
           MARGIN, y + 22, FONT, low);
  fprintf (f, "<text x=\"%u\" y=\"%.0f\" font-size=\"11\" %s "
           "text-anchor=\"end\">%s</text>\n", MARGIN + 200, y + 22, FONT,
           high);
}

/* Legend entries: a cell drawn as the map draws it, and its meaning. */
static void
legend (FILE *f, double x, double y, const char *fill, const char *extra,
        const char *label)
{
  fprintf (f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" "
           "fill=\"%s\" %s/>\n", x, y, fill, extra);
  fprintf (f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" %s>%s</text>\n",
           x + 16, y + 10, FONT, label);
}

/* The decorations of a cell that is not simply closed or free. */
static const char *
cell_extra (const char *state)
{
  if (strcmp (state, "open") == 0)
    return "stroke=\"#000000\" stroke-width=\"2\"";
  if (strcmp (state, "reserve") == 0)
    return "stroke=\"#333333\" stroke-width=\"1\" stroke-dasharray=\"2,1\"";
  return "";
}

static void
segment_map (FILE *f, double top, const struct layout *l,
             const struct vswap_segment_info *segments, uint64_t count,
             const bool *reserve, uint32_t segment_size, bool by_wear,
             uint32_t erase_min, uint32_t erase_max)
{
  const unsigned size = l->cell > 3 ? l->cell - 1 : l->cell;

  fprintf (f, "<g class=\"map\" id=\"%s\">\n", by_wear ? "wear" : "live");
  for (uint64_t i = 0; i < count; i++) {
    const struct vswap_segment_info *s = &segments[i];
    const char *state = state_name (s, reserve[i]);
    const double live = segment_size ? (double) s->live_bytes / segment_size
      : 0;
    const double x = MARGIN + (double) (i % l->columns) * l->cell;
    const double y = top + (double) (i / l->columns) * l->cell;
    char colour[8];
    const char *fill;

    if (by_wear)
      fill = ramp_colour (wear_ramp, erase_max > erase_min
                          ? (double) (s->erase_count - erase_min)
                          / (erase_max - erase_min) : 0, colour);
    else if (s->free && !s->open && !s->releasing)
      fill = FREE_COLOUR;
    else
      fill = ramp_colour (live_ramp, live, colour);

    fprintf (f, "<rect class=\"segment\" x=\"%.0f\" y=\"%.0f\" width=\"%u\" "
             "height=\"%u\" fill=\"%s\" %s data-segment=\"%" PRIu64 "\" "
             "data-state=\"%s\" data-live=\"%.4f\" data-erases=\"%" PRIu32
             "\"><title>segment %" PRIu64 ": %s, %.0f%% live, %" PRIu32
             " erase%s</title></rect>\n", x, y, size, size, fill,
             by_wear ? "" : cell_extra (state), i, state, live, s->erase_count,
             i, state, 100 * live, s->erase_count,
             s->erase_count == 1 ? "" : "s");
    if (!by_wear && s->releasing)
      fprintf (f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%u\" height=\"%u\" "
               "fill=\"url(#releasing)\"/>\n", x, y, size, size);
  }
  fprintf (f, "</g>\n");
}

static void
histogram (FILE *f, double top, const struct vswap_segment_info *segments,
           uint64_t count, uint32_t erase_min, uint32_t erase_max)
{
  const uint64_t span = (uint64_t) erase_max - erase_min + 1;
  const uint64_t bars = span < HISTOGRAM_BARS ? span : HISTOGRAM_BARS;
  const double width = (double) MAP_WIDTH / bars;
  uint64_t counts[HISTOGRAM_BARS] = { 0 }, most = 1;

  for (uint64_t i = 0; i < count; i++) {
    uint64_t b = ((uint64_t) segments[i].erase_count - erase_min) * bars / span;

    counts[b < bars ? b : bars - 1]++;
  }
  for (uint64_t b = 0; b < bars; b++)
    if (counts[b] > most)
      most = counts[b];

  fprintf (f, "<g class=\"histogram\" id=\"histogram\">\n");
  for (uint64_t b = 0; b < bars; b++) {
    const uint64_t low = erase_min + b * span / bars;
    const uint64_t high = erase_min + (b + 1) * span / bars - 1;
    const double height = (double) counts[b] * HISTOGRAM_HEIGHT / most;

    fprintf (f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
             "height=\"%.1f\" fill=\"#2171b5\" data-erases-low=\"%" PRIu64
             "\" data-erases-high=\"%" PRIu64 "\" data-segments=\"%" PRIu64
             "\"><title>%" PRIu64 "-%" PRIu64 " erases: %" PRIu64
             " segments</title></rect>\n", MARGIN + b * width + 1,
             top + HISTOGRAM_HEIGHT - height, width > 3 ? width - 2 : width,
             height, low, high, counts[b], low, high, counts[b]);
  }
  fprintf (f, "<line x1=\"%u\" y1=\"%.0f\" x2=\"%u\" y2=\"%.0f\" "
           "stroke=\"#000000\"/>\n", MARGIN, top + HISTOGRAM_HEIGHT,
           MARGIN + MAP_WIDTH, top + HISTOGRAM_HEIGHT);
  /* Under each bar its erase count, where they fit; else the ends. */
  for (uint64_t b = 0; b < bars; b++) {
    const uint64_t low = erase_min + b * span / bars;
    const uint64_t high = erase_min + (b + 1) * span / bars - 1;

    if (bars > 24 && b != 0 && b != bars - 1)
      continue;
    fprintf (f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" %s "
             "text-anchor=\"middle\">", MARGIN + (b + 0.5) * width,
             top + HISTOGRAM_HEIGHT + 14, FONT);
    if (low == high)
      fprintf (f, "%" PRIu64, low);
    else
      fprintf (f, "%" PRIu64 "-%" PRIu64, low, high);
    fprintf (f, "</text>\n");
  }
  fprintf (f, "<text x=\"%u\" y=\"%.0f\" font-size=\"11\" %s "
           "text-anchor=\"end\">erases</text>\n", MARGIN + MAP_WIDTH,
           top + HISTOGRAM_HEIGHT + 28, FONT);
  fprintf (f, "<text x=\"%u\" y=\"%.0f\" font-size=\"11\" %s>tallest bar: "
           "%" PRIu64 " segments</text>\n", MARGIN, top - 4, FONT, most);
  fprintf (f, "</g>\n");
}

static void
heading (FILE *f, double y, const char *text)
{
  fprintf (f, "<text x=\"%u\" y=\"%.0f\" font-size=\"14\" "
           "font-weight=\"bold\" %s>%s</text>\n", MARGIN, y, FONT, text);
}

int
tool_write_store_svg (const char *path, const char *spec,
                      const struct vswap_store_info *info,
                      const struct vswap_segment_info *segments,
                      uint64_t count)
{
  const struct layout l = map_layout (count);
  const double map_height = (double) l.rows * l.cell;
  uint32_t erase_min = UINT32_MAX, erase_max = 0, reserve = 0;
  uint64_t open = 0, free_segments = 0, releasing = 0, reserved = 0;
  char uuid[VSWAP_UUID_TEXT_SIZE], size[32], text[160];
  bool *marked;
  double y;
  FILE *f;

  for (uint64_t i = 0; i < count; i++) {
    if (segments[i].erase_count < erase_min)
      erase_min = segments[i].erase_count;
    if (segments[i].erase_count > erase_max)
      erase_max = segments[i].erase_count;
    reserve = segments[i].reserve;
    open += segments[i].open;
    releasing += segments[i].releasing;
    free_segments += segments[i].free && !segments[i].open
      && !segments[i].releasing;
  }
  if (count == 0)
    erase_min = 0;
  marked = calloc (count ? count : 1, sizeof *marked);
  if (marked == NULL) {
    tool_error ("inspect", "out of memory");
    return -1;
  }
  mark_reserve (segments, count, reserve, marked);
  for (uint64_t i = 0; i < count; i++)
    reserved += marked[i];

  f = fopen (path, "w");
  if (f == NULL) {
    tool_error ("inspect", "--svg %s: cannot create: %s: give a file in a "
                "directory you can write", path, strerror (errno));
    free (marked);
    return -1;
  }

  /* Title, two maps with their scales, the histogram. */
  const double live_top = MARGIN + 90;
  const double wear_top = live_top + map_height + 100;
  const double histogram_top = wear_top + map_height + 80;
  const double height = histogram_top + HISTOGRAM_HEIGHT + 40;

  fprintf (f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" "
           "height=\"%.0f\" viewBox=\"0 0 %u %.0f\">\n", WIDTH, height,
           WIDTH, height);
  fprintf (f, "<defs><pattern id=\"releasing\" width=\"4\" height=\"4\" "
           "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
           "<rect width=\"2\" height=\"4\" fill=\"#000000\" "
           "fill-opacity=\"0.6\"/></pattern></defs>\n");
  fprintf (f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");

  vswap_uuid_format (info->uuid, uuid);
  heading (f, MARGIN + 4, "vswap store");
  fprintf (f, "<text x=\"%u\" y=\"%u\" font-size=\"11\" %s>", MARGIN,
           MARGIN + 20, FONT);
  for (const char *p = spec; *p; p++)     /* the medium's name, escaped */
    switch (*p) {
    case '<': fputs ("&lt;", f); break;
    case '>': fputs ("&gt;", f); break;
    case '&': fputs ("&amp;", f); break;
    default: fputc (*p, f); break;
    }
  fprintf (f, ", uuid %s</text>\n", uuid);
  fprintf (f, "<text x=\"%u\" y=\"%u\" font-size=\"11\" %s>%" PRIu64
           " data segments of %s: %" PRIu64 " open, %" PRIu64 " free (%"
           PRIu64 " of them GC's reserve), %" PRIu64 " releasing</text>\n",
           MARGIN, MARGIN + 36, FONT, count,
           vswap_human_size (info->segment_size, size, sizeof size), open,
           free_segments, reserved, releasing);

  heading (f, live_top - 24, "Live data in each segment");
  segment_map (f, live_top, &l, segments, count, marked, info->segment_size,
               false, erase_min, erase_max);
  y = live_top + map_height + 12;
  scale (f, y, live_ramp, "0% live", "100% live");
  legend (f, MARGIN + 240, y, FREE_COLOUR, "", "free");
  legend (f, MARGIN + 300, y, FREE_COLOUR,
          cell_extra ("reserve"), "GC's reserve (the most worn free)");
  legend (f, MARGIN + 520, y, "#ffffff", cell_extra ("open"),
          "open (a write head)");
  legend (f, MARGIN + 660, y, "url(#releasing)",
          "stroke=\"#999999\" stroke-width=\"1\"",
          "releasing (free after a flush)");

  snprintf (text, sizeof text, "Erase count of each segment (min %" PRIu32
            ", max %" PRIu32 ")", erase_min, erase_max);
  heading (f, wear_top - 24, text);
  segment_map (f, wear_top, &l, segments, count, marked, info->segment_size,
               true, erase_min, erase_max);
  {
    char low[32], high[32];

    snprintf (low, sizeof low, "%" PRIu32 " erases", erase_min);
    snprintf (high, sizeof high, "%" PRIu32 " erases", erase_max);
    scale (f, wear_top + map_height + 12, wear_ramp, low, high);
  }

  heading (f, histogram_top - 24, "Segments by erase count");
  histogram (f, histogram_top, segments, count, erase_min, erase_max);
  fprintf (f, "</svg>\n");
  free (marked);

  if (ferror (f) | (fclose (f) != 0)) {
    tool_error ("inspect", "--svg %s: write failed: %s", path,
                strerror (errno));
    return -1;
  }
  return 0;
}
