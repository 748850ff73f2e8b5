// The fleet page's files (daemon/ui/assets/), embedded at build time by cmake/embed_ui.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace baton::ui {

struct ui_asset {
  std::string_view name;         ///< file name: "index.html", "fleet.js"
  std::string_view content_type; ///< from the extension
  std::string_view body;
};

const std::vector<ui_asset>& ui_assets();

/// The asset called `name`, or nullptr.
inline const ui_asset* find_ui_asset(std::string_view name) {
  for (const auto& a : ui_assets())
    if (a.name == name) return &a;
  return nullptr;
}

} // namespace baton::ui
