// `tillstream check PIPELINE.yaml`: validates a pipeline file and prints the
// effective configuration, secrets redacted.
#include <cstdio>

#include "engine/commands.h"
#include "engine/pipeline_config.h"

namespace tillstream {

int CheckCommand(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::fprintf(stderr, "usage: tillstream check PIPELINE.yaml\n");
    return kExitUsage;
  }
  absl::StatusOr<PipelineConfig> config = LoadPipelineConfig(args[0]);
  if (!config.ok()) {
    std::fprintf(stderr, "tillstream: %s\n",
                 std::string(config.status().message()).c_str());
    return kExitUsage;
  }
  std::printf("%s\n", EffectiveConfigJson(*config).c_str());
  return kExitOk;
}

}  // namespace tillstream
