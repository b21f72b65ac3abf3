#!/usr/bin/env python3
"""Writes a scale scenario for kscale: N Deployments x R replicas (500m CPU / 1Gi each, a
constant load of 1 request/s per replica), a Karpenter NodePool of m5.4xlarge on-demand nodes with consolidation,
and 2 tainted system nodes.

    python3 scripts/scale_scenario.py --deployments 300 --replicas 100 --duration 30m --out /tmp/scale
    cargo run --release -- run /tmp/scale/scenario.yaml --out /tmp/scale/out
"""
import argparse
import os

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--deployments", type=int, default=300)
p.add_argument("--replicas", type=int, default=100)
p.add_argument("--duration", default="30m")
p.add_argument("--out", required=True)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
docs = ["""apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: general}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.4xlarge]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
  disruption: {consolidationPolicy: WhenEmptyOrUnderutilized, consolidateAfter: 5m}
"""]
for i in range(a.deployments):
    docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: app{i}}}
spec:
  replicas: {a.replicas}
  selector: {{matchLabels: {{app: app{i}}}}}
  template:
    metadata: {{labels: {{app: app{i}}}}}
    spec:
      containers:
      - {{name: c, image: app, resources: {{requests: {{cpu: 500m, memory: 1Gi}}, limits: {{cpu: '1', memory: 2Gi}}}}}}
""")
with open(os.path.join(a.out, "manifests.yaml"), "w") as f:
    f.write("---\n".join(docs))
rps = a.replicas
loads = "".join(f"    - {{target: deployment/app{i}, requestsPerSecond: {{constant: {rps}}}, cpuPerRequest: 3m}}\n" for i in range(a.deployments))
with open(os.path.join(a.out, "scenario.yaml"), "w") as f:
    f.write(f"""apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: scale}}
spec:
  duration: {a.duration}
  nodes:
    - {{name: system, instanceType: m5.large, count: 2, taints: [{{key: CriticalAddonsOnly, value: "true", effect: NoSchedule}}]}}
  manifests: [manifests.yaml]
  load:
{loads}""")
print(os.path.join(a.out, "scenario.yaml"))
