//! Custom objects the components read (CapacityBuffers, VerticalPodAutoscalers, Karpenter's
//! NodePools and Provisioners): what makes a struct of `metadata`, `spec` and `status` an
//! object the cluster API serves.

/// Makes `$ty` (a struct with `metadata: ObjectMeta`, `spec: $spec` and
/// `status: Option<$status>` fields) an API object served as `$group/$version`, kind `$kind`,
/// resource `$plural`, of `$scope` (`NamespaceResourceScope` or `ClusterResourceScope`): it
/// serializes with its `apiVersion` and `kind` (a status only when set), as the API server
/// returns it.
macro_rules! custom_object {
    ($ty:ty, $spec:ty, $status:ty, $group:literal, $version:literal, $kind:expr, $plural:literal, $scope:ident) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::$scope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                #[derive(serde::Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Repr<'a> {
                    api_version: &'static str,
                    kind: &'static str,
                    metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                    spec: &'a $spec,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    status: &'a Option<$status>,
                }
                Repr {
                    api_version: <Self as k8s_openapi::Resource>::API_VERSION,
                    kind: $kind,
                    metadata: &self.metadata,
                    spec: &self.spec,
                    status: &self.status,
                }
                .serialize(s)
            }
        }
    };
}

pub(crate) use custom_object;
