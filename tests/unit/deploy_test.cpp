// deploy/kubernetes/batond.yaml stays consistent with batond: its embedded config is valid but
// for the KEK file only a cluster has, preStop drains with --wait and a batonctl timeout past
// the handoff deadline, the grace period outlasts both, and the probes use /readyz, /healthz.
#include <catch2/catch.hpp>

#include <yaml-cpp/yaml.h>

#include <fstream>

#include "daemon/config_loader.hpp"

using namespace baton;

TEST_CASE("the Kubernetes DaemonSet drains before it stops, within its grace period") {
  auto documents =
      YAML::LoadAllFromFile(std::string(BATON_SOURCE_DIR) + "/deploy/kubernetes/batond.yaml");
  REQUIRE(documents.size() == 2);
  auto config_text = documents[0]["data"]["baton.yaml"].as<std::string>();
  auto config = load_config_text(config_text, "configmap");
  for (const auto& p : config.problems) {
    INFO(p);
    CHECK(p.find("KEK 'k1': cannot read file /etc/baton/kek/kek") != std::string::npos);
  }
  auto deadline_ms = config.cfg.sessions.handoff_deadline.count();
  CHECK(deadline_ms == 10000);

  const auto& daemonset = documents[1];
  CHECK(daemonset["kind"].as<std::string>() == "DaemonSet");
  const auto& pod = daemonset["spec"]["template"]["spec"];
  auto grace_s = pod["terminationGracePeriodSeconds"].as<long>();
  const auto& container = pod["containers"][0];
  auto pre_stop =
      container["lifecycle"]["preStop"]["exec"]["command"].as<std::vector<std::string>>();
  CHECK(pre_stop.at(0) == "batonctl");
  CHECK(pre_stop.at(pre_stop.size() - 2) == "drain");
  CHECK(pre_stop.back() == "--wait");
  long batonctl_timeout_ms = 0;
  for (std::size_t i = 0; i + 1 < pre_stop.size(); ++i)
    if (pre_stop[i] == "--timeout") batonctl_timeout_ms = std::stol(pre_stop[i + 1]);
  CHECK(batonctl_timeout_ms > deadline_ms);
  CHECK(grace_s * 1000 > batonctl_timeout_ms);
  CHECK(container["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  CHECK(container["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/healthz");
  CHECK(pod["volumes"][0]["hostPath"]["path"].as<std::string>() == "/run/baton");
}

TEST_CASE("the DaemonSet runs batond as the image's baton user, who owns the socket directory") {
  auto documents =
      YAML::LoadAllFromFile(std::string(BATON_SOURCE_DIR) + "/deploy/kubernetes/batond.yaml");
  const auto& pod = documents.at(1)["spec"]["template"]["spec"];
  // The uid deploy/image/build.sh gives the baton user in the image.
  std::ifstream recipe(std::string(BATON_SOURCE_DIR) + "/deploy/image/build.sh");
  std::string line, image_uid;
  while (std::getline(recipe, line))
    if (line.rfind("uid=", 0) == 0) image_uid = line.substr(4);
  REQUIRE_FALSE(image_uid.empty());
  const auto& security = pod["containers"][0]["securityContext"];
  CHECK(security["runAsUser"].as<std::string>() == image_uid);
  CHECK(security["runAsGroup"].as<std::string>() == image_uid);
  CHECK(security["runAsNonRoot"].as<bool>());
  CHECK(pod["securityContext"]["fsGroup"].as<std::string>() == image_uid);
  // hostPath directories come root-owned: an init container hands both to that uid.
  auto chown = pod["initContainers"][0]["command"].as<std::vector<std::string>>();
  REQUIRE(chown.size() == 4);
  CHECK(chown[0] == "chown");
  CHECK(chown[1] == image_uid + ":" + image_uid);
  CHECK(chown[2] == "/run/baton");
  CHECK(chown[3] == "/var/lib/baton");
  CHECK(pod["containers"][0]["image"].as<std::string>().rfind("baton/batond:", 0) == 0);
}
