#include "learner/train_checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "common/model/heads.h"
#include "common/model/safetensors.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace crucible::learner {
namespace {

using nlohmann::json;

constexpr char kStepPrefix[] = "step-";
constexpr char kTempPrefix[] = ".tmp-step-";

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("fsync " + dir);
}

// Entries of dir whose names start with prefix, with the step number that follows.
std::vector<std::pair<int64_t, std::string>> Steps(const std::string& dir, const char* prefix) {
  std::vector<std::pair<int64_t, std::string>> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (!absl::StartsWith(name, prefix)) continue;
    std::string digits = name.substr(std::strlen(prefix));
    digits = digits.substr(0, digits.find('-'));
    int64_t step;
    if (absl::SimpleAtoi(digits, &step)) out.emplace_back(step, dir + "/" + name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string StepDirName(int64_t step) { return absl::StrFormat("%s%08d", kStepPrefix, step); }

absl::Status SaveTrainCheckpoint(Trainer& trainer, const std::string& dir, const model::LoraConfig& lora, int keep,
                                 const std::map<std::string, std::string>& extra_files) {
  CRUCIBLE_RETURN_IF_ERROR(MakeDirs(dir));
  const Trainer::Scalars scalars = trainer.StateScalars();
  const std::string final_dir = absl::StrCat(dir, "/", StepDirName(scalars.step));
  const std::string tmp = absl::StrCat(dir, "/", kTempPrefix, absl::StrFormat("%08d", scalars.step), "-", ::getpid());
  (void)RemoveTree(tmp);
  if (::mkdir(tmp.c_str(), 0755) != 0) return Errno("mkdir " + tmp);

  std::vector<std::pair<std::string, torch::Tensor>> tensors = trainer.StateTensors();
  CRUCIBLE_RETURN_IF_ERROR(model::WriteSafetensors(tmp + "/state.safetensors", tensors, {{"format", "crucible-train"}}));
  const TrainerOptions& o = trainer.options();
  json state = {{"step", scalars.step},
                {"consumed", scalars.consumed},
                {"adam_step", scalars.adam_step},
                {"kl_coef", scalars.kl_coef},
                {"algorithm", AlgorithmName(o.algorithm)},
                {"world_size", trainer.comm().size()},
                {"seed", o.seed},
                {"batch_size", o.batch_size},
                {"full_parameters", o.full_parameters}};
  CRUCIBLE_RETURN_IF_ERROR(WriteFileAtomic(tmp + "/state.json", state.dump(2) + "\n"));
  if (o.full_parameters) {
    // The whole model as a Hugging Face directory that `crucible model` and actors load,
    // with the base's tokenizer beside it.
    CRUCIBLE_RETURN_IF_ERROR(model::SaveCausalLm(trainer.model(), tmp + "/model", torch::kFloat32));
    const std::string tokenizer = lora.base_model_name_or_path + "/tokenizer.json";
    if (!lora.base_model_name_or_path.empty() && ::access(tokenizer.c_str(), R_OK) == 0) {
      CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadFile(tokenizer));
      CRUCIBLE_RETURN_IF_ERROR(WriteFileAtomic(tmp + "/model/tokenizer.json", text));
    }
    CRUCIBLE_RETURN_IF_ERROR(FsyncDir(tmp + "/model"));
  } else {
    CRUCIBLE_RETURN_IF_ERROR(model::SavePeftAdapter(trainer.model(), lora, tmp + "/adapter"));
    CRUCIBLE_RETURN_IF_ERROR(FsyncDir(tmp + "/adapter"));
  }
  for (auto& [name, head] : trainer.Heads()) {
    CRUCIBLE_RETURN_IF_ERROR(model::SaveHead(*head, absl::StrCat(tmp, "/", name, ".safetensors")));
  }
  for (const auto& [name, contents] : extra_files) {
    CRUCIBLE_RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(tmp, "/", name), contents));
  }
  CRUCIBLE_RETURN_IF_ERROR(FsyncDir(tmp));
  if (::access(final_dir.c_str(), F_OK) == 0) CRUCIBLE_RETURN_IF_ERROR(RemoveTree(final_dir));
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) return Errno("rename " + tmp + " -> " + final_dir);
  CRUCIBLE_RETURN_IF_ERROR(FsyncDir(dir));

  // Older checkpoints beyond `keep`, and temporaries a killed writer left behind.
  std::vector<std::pair<int64_t, std::string>> steps = Steps(dir, kStepPrefix);
  for (size_t i = 0; keep > 0 && i + static_cast<size_t>(keep) < steps.size(); ++i) {
    CRUCIBLE_RETURN_IF_ERROR(RemoveTree(steps[i].second));
  }
  for (const auto& [step, path] : Steps(dir, kTempPrefix)) (void)RemoveTree(path);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> LatestTrainCheckpoint(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> steps = Steps(dir, kStepPrefix);
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    // Complete directories only ever appear by rename; still, insist on the state files.
    if (::access((it->second + "/state.json").c_str(), R_OK) == 0 &&
        ::access((it->second + "/state.safetensors").c_str(), R_OK) == 0) {
      return std::optional<std::string>(it->second);
    }
  }
  return std::optional<std::string>();
}

absl::Status RestoreTrainCheckpoint(Trainer& trainer, const std::string& step_dir) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadFile(step_dir + "/state.json"));
  json state = json::parse(text, nullptr, false);
  if (state.is_discarded() || !state.is_object()) return absl::DataLossError(step_dir + "/state.json is not JSON");
  const std::string algorithm = state.value("algorithm", "");
  if (algorithm != AlgorithmName(trainer.options().algorithm)) {
    return absl::FailedPreconditionError(absl::StrCat(step_dir, " is a \"", algorithm, "\" checkpoint, this run is \"",
                                                      AlgorithmName(trainer.options().algorithm), "\""));
  }
  Trainer::Scalars scalars;
  try {
    scalars.step = state.at("step").get<int64_t>();
    scalars.consumed = state.at("consumed").get<int64_t>();
    scalars.adam_step = state.at("adam_step").get<int64_t>();
    scalars.kl_coef = state.at("kl_coef").get<double>();
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(step_dir, "/state.json: ", e.what()));
  }
  CRUCIBLE_ASSIGN_OR_RETURN(std::unique_ptr<model::SafetensorsFile> file,
                            model::SafetensorsFile::Open(step_dir + "/state.safetensors"));
  std::map<std::string, torch::Tensor> tensors;
  for (const std::string& name : file->names()) {
    CRUCIBLE_ASSIGN_OR_RETURN(torch::Tensor t, file->Get(name));
    tensors[name] = t.clone();  // off the mapping
  }
  return trainer.RestoreState(tensors, scalars);
}

namespace {

// A frozen backbone from a checkpoint: its step directory (`path` itself, or the newest
// step under it) and the model of that step: the base at model_dir with the step's
// adapter, or the step's own model/ when every weight was trained. No gradients.
struct FrozenBackbone {
  std::string step_dir;
  model::CausalLm model{nullptr};
};

absl::StatusOr<FrozenBackbone> LoadFrozenBackbone(const std::string& path, const std::string& model_dir,
                                                  const model::ModelOptions& options, const char* what) {
  FrozenBackbone b;
  b.step_dir = path;
  if (::access((path + "/state.json").c_str(), F_OK) != 0) {
    CRUCIBLE_ASSIGN_OR_RETURN(std::optional<std::string> latest, LatestTrainCheckpoint(path));
    if (!latest.has_value()) return absl::NotFoundError(absl::StrCat("no ", what, " checkpoint under ", path));
    b.step_dir = *latest;
  }
  const bool full = ::access((b.step_dir + "/model/config.json").c_str(), F_OK) == 0;
  CRUCIBLE_ASSIGN_OR_RETURN(b.model, model::LoadCausalLm(full ? b.step_dir + "/model" : model_dir, options));
  if (!full) CRUCIBLE_RETURN_IF_ERROR(model::LoadPeftAdapter(b.model, b.step_dir + "/adapter").status());
  b.model->eval();
  for (auto& p : b.model->parameters()) p.set_requires_grad(false);
  return b;
}

void Freeze(torch::nn::Module& head) {
  for (auto& p : head.parameters()) p.set_requires_grad(false);
}

}  // namespace

absl::StatusOr<Critic> LoadFrozenCritic(const std::string& path, const std::string& model_dir,
                                        const model::ModelOptions& options) {
  CRUCIBLE_ASSIGN_OR_RETURN(FrozenBackbone b, LoadFrozenBackbone(path, model_dir, options, "critic"));
  Critic critic;
  critic.model = b.model;
  critic.head = model::OutcomeHead(critic.model->config().hidden_size, options.device);
  CRUCIBLE_RETURN_IF_ERROR(model::LoadHead(*critic.head, b.step_dir + "/outcome_head.safetensors"));
  Freeze(*critic.head);
  return critic;
}

absl::StatusOr<RewardModel> LoadFrozenRewardModel(const std::string& path, const std::string& model_dir,
                                                  const model::ModelOptions& options) {
  CRUCIBLE_ASSIGN_OR_RETURN(FrozenBackbone b, LoadFrozenBackbone(path, model_dir, options, "reward model"));
  RewardModel rm;
  rm.model = b.model;
  rm.head = model::RewardHead(rm.model->config().hidden_size, options.device);
  CRUCIBLE_RETURN_IF_ERROR(model::LoadHead(*rm.head, b.step_dir + "/reward_head.safetensors"));
  Freeze(*rm.head);
  return rm;
}

}  // namespace crucible::learner
