// The threshold-sweep chart as a self-contained SVG (no plotting dependency).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "kvik/lsh_eval.h"

namespace kvik::lsh {
namespace {

std::string Format(const char* format, double a, double b = 0, double c = 0, double d = 0) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, format, a, b, c, d);
  return buffer;
}

}  // namespace

std::string SweepSvg(const EvalReport& report) {
  constexpr double kWidth = 640, kHeight = 400, kLeft = 60, kRight = 150, kTop = 30, kBottom = 50;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  std::string svg = Format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n",
      kWidth, kHeight);
  svg += Format(
      "<text x=\"%.0f\" y=\"18\" font-size=\"14\">kvik lsh eval: threshold sweep</text>\n", kLeft);
  if (report.sweep.empty()) return svg + "</svg>\n";
  const double v_min = report.sweep.front().min_votes, v_max = report.sweep.back().min_votes;
  auto x = [&](double v) {
    return kLeft + (v_max > v_min ? (v - v_min) / (v_max - v_min) : 0.5) * plot_w;
  };
  // The y axis starts at the lowest plotted value rounded down to 10%, so the curves use the
  // height.
  double y_min = report.exact_raw.hit_rate;
  for (const auto& row : report.sweep)
    y_min = std::min({y_min, row.tail_hit_rate, row.hit_rate, row.precision});
  y_min = std::floor(y_min * 10) / 10;
  auto y = [&](double fraction) { return kTop + (1 - (fraction - y_min) / (1 - y_min)) * plot_h; };
  for (int tick = static_cast<int>(std::lround(y_min * 20)); tick <= 20; ++tick) {
    double f = tick / 20.0;
    svg += Format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                  kLeft, y(f), kLeft + plot_w, y(f));
    svg += Format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n", kLeft - 6,
                  y(f) + 4, 100 * f);
  }
  for (const auto& row : report.sweep) {
    svg += Format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n",
                  x(row.min_votes), kTop + plot_h + 16, row.min_votes);
  }
  svg += Format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">min votes (of k)</text>\n",
                kLeft + plot_w / 2, kHeight - 10);
  struct Series {
    const char* name;
    const char* color;
    double (*value)(const EvalRow&);
  };
  const Series series[] = {
      {"hit rate", "#1f77b4", [](const EvalRow& r) { return r.hit_rate; }},
      {"tail hit rate", "#2ca02c", [](const EvalRow& r) { return r.tail_hit_rate; }},
      {"precision", "#d62728", [](const EvalRow& r) { return r.precision; }},
  };
  int legend_row = 0;
  for (const auto& s : series) {
    std::string points;
    for (const auto& row : report.sweep)
      points += Format("%.1f,%.1f ", x(row.min_votes), y(s.value(row)));
    svg += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" + std::string(s.color) +
           "\" points=\"" + points + "\"/>\n";
    double ly = kTop + 10 + 20 * legend_row++;
    svg += Format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke-width=\"3\" ",
                  kLeft + plot_w + 12, ly, kLeft + plot_w + 32, ly) +
           "stroke=\"" + s.color + "\"/>\n";
    svg +=
        Format("<text x=\"%.1f\" y=\"%.1f\">", kLeft + plot_w + 38, ly + 4) + s.name + "</text>\n";
  }
  // The exact-match baseline's hit rate as a dashed reference line.
  svg += Format(
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#777\" "
      "stroke-dasharray=\"5,4\"/>\n",
      kLeft, y(report.exact_raw.hit_rate), kLeft + plot_w, y(report.exact_raw.hit_rate));
  double ly = kTop + 10 + 20 * legend_row;
  svg += Format(
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#777\" "
      "stroke-dasharray=\"5,4\"/>\n",
      kLeft + plot_w + 12, ly, kLeft + plot_w + 32, ly);
  svg += Format("<text x=\"%.1f\" y=\"%.1f\">exact-match hit rate</text>\n", kLeft + plot_w + 38,
                ly + 4);
  return svg + "</svg>\n";
}

}  // namespace kvik::lsh
