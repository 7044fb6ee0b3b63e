# Cluster packaging: container images, the kind cluster, the operator's Helm chart, the end-to-end suite, docs.
# Included by the top-level Makefile. Needs docker (or podman, for the images), kind and kubectl on PATH for the
# cluster targets.

# docker when its engine answers, else podman (same commands; no daemon needed).
DOCKER ?= $(shell docker info >/dev/null 2>&1 && echo docker || (command -v podman >/dev/null 2>&1 && echo podman || echo docker))
# Extra flags for both image builds, e.g. a CA bundle for pip behind a TLS-intercepting proxy:
# IMAGE_BUILD_FLAGS='-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro' (podman)
IMAGE_BUILD_FLAGS ?=
KIND ?= kind
KUBECTL ?= kubectl
KIND_CLUSTER ?= soma
KUBE_CONTEXT ?= kind-$(KIND_CLUSTER)
SOMA_VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE_REGISTRY ?= ghcr.io/soma-platform
RUNTIME_IMAGE ?= $(IMAGE_REGISTRY)/soma-runtime
OPERATOR_IMAGE ?= $(IMAGE_REGISTRY)/soma-operator
# A second tag of the runtime image, loaded into kind for the suite's version-change test.
E2E_UPGRADE_VERSION ?= $(SOMA_VERSION)-e2e
HELM_RELEASE ?= soma-operator
HELM_NAMESPACE ?= soma-system

.PHONY: images lock kind-up kind-load helm-install e2e kind-down sync-crds docs

## images: build the runtime and operator images, tagged with the project version
images:
	$(DOCKER) build $(IMAGE_BUILD_FLAGS) -f Dockerfile.runtime -t $(RUNTIME_IMAGE):$(SOMA_VERSION) .
	$(DOCKER) build $(IMAGE_BUILD_FLAGS) -f Dockerfile.operator -t $(OPERATOR_IMAGE):$(SOMA_VERSION) .

## lock: re-resolve the images' hashed locks (requirements/*.txt) after a change to pyproject.toml's dependencies
lock: $(STAMP)
	$(BIN)/python scripts/lock.py

## kind-up: create the kind cluster (once) and its expandable StorageClass
kind-up:
	$(KIND) get clusters | grep -qx '$(KIND_CLUSTER)' || $(KIND) create cluster --name $(KIND_CLUSTER) --config kind/cluster.yaml --wait 120s
	$(KUBECTL) --context $(KUBE_CONTEXT) apply -f kind/storageclass.yaml

## kind-load: build the images and load them into the kind cluster's node
kind-load: images
	$(DOCKER) tag $(RUNTIME_IMAGE):$(SOMA_VERSION) $(RUNTIME_IMAGE):$(E2E_UPGRADE_VERSION)
	$(KIND) load docker-image --name $(KIND_CLUSTER) $(OPERATOR_IMAGE):$(SOMA_VERSION) $(RUNTIME_IMAGE):$(SOMA_VERSION) $(RUNTIME_IMAGE):$(E2E_UPGRADE_VERSION)

## helm-install: install (or upgrade) the operator chart into the cluster, through helm-sdkpy
helm-install: $(STAMP)
	$(BIN)/python scripts/helm_install.py helm/soma-operator $(HELM_RELEASE) --namespace $(HELM_NAMESPACE) --create-namespace \
		--kube-context $(KUBE_CONTEXT) \
		--values-json '{"image": {"repository": "$(OPERATOR_IMAGE)", "tag": "$(SOMA_VERSION)"}, "runtimeImage": {"repository": "$(RUNTIME_IMAGE)"}}'

## e2e: the end-to-end suite on kind: cluster, images, operator, then the tests
e2e: kind-up kind-load helm-install
	SOMA_E2E=1 SOMA_E2E_CONTEXT=$(KUBE_CONTEXT) SOMA_E2E_UPGRADE_VERSION=$(E2E_UPGRADE_VERSION) $(BIN)/pytest tests/e2e -m e2e

## kind-down: delete the kind cluster
kind-down:
	$(KIND) delete cluster --name $(KIND_CLUSTER)

## sync-crds: copy the CRDs (crds/, the source of truth) into the chart
sync-crds:
	cp crds/*.yaml helm/soma-operator/files/crds/

## docs: regenerate docs/memorysystem-reference.md (from the CRD) and docs/http-api.md (from the OpenAPI)
docs: $(STAMP)
	$(BIN)/python scripts/gen_docs.py
