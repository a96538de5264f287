#pragma once

#include <chrono>
#include <memory>

#include <mca/routing/v1alpha1/routing.grpc.pb.h>

#include "operator/auth/sidecar_authenticator.hpp"
#include "operator/stream/stream_state.hpp"
#include "operator/stream/table_hub.hpp"

namespace mca::op {

// The gRPC RoutingDiscovery service (proto/): one bidirectional stream per
// sidecar, authenticated by its projected token, fed from the hub. gRPC's
// callback API: no thread per stream, so thousands of sidecars cost memory,
// not threads.
class routing_discovery_service final
    : public mca::routing::v1alpha1::RoutingDiscovery::CallbackService {
 public:
  routing_discovery_service(table_hub& hub, sidecar_authenticator& auth,
                            stream_state::options options = {})
      : hub_(hub), auth_(auth), options_(options) {}

  grpc::ServerBidiReactor<mca::routing::v1alpha1::RoutesRequest,
                          mca::routing::v1alpha1::RoutesResponse>*
  StreamRoutes(grpc::CallbackServerContext* context) override;

 private:
  table_hub& hub_;
  sidecar_authenticator& auth_;
  stream_state::options options_;
};

}  // namespace mca::op
