// Fuzz target: any text as a pipeline file. It must never crash, and every
// refusal names the file and a line.
#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "engine/pipeline_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tillstream::PipelineConfig> config =
      tillstream::ParsePipelineConfig(yaml, "fuzz.yaml");
  if (!config.ok() &&
      !absl::StartsWith(config.status().message(), "fuzz.yaml:"))
    std::abort();
  if (config.ok() && (config->name.empty() || config->kpis.empty()))
    std::abort();
  return 0;
}
