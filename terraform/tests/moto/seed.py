#!/usr/bin/env python3
"""Create in moto what the root module expects to exist already, and write tfvars.

The plan assumes an existing VPC, private subnets, security groups and an ECR repository
holding the worker image. This seeds exactly those, then writes a tfvars JSON file for
`terraform apply`.

Usage: seed.py ENDPOINT_URL TFVARS_OUT LAMBDA_ZIP
  LAMBDA_ZIP stands in for both functions' packages (Spot handler, backlog scaler).
"""
import hashlib
import json
import sys

import boto3


def main() -> None:
    endpoint, tfvars_out, lambda_zip = sys.argv[1:4]
    kw = dict(endpoint_url=endpoint, region_name="us-east-1")
    ec2 = boto3.client("ec2", **kw)
    ecr = boto3.client("ecr", **kw)
    # The result bucket: the stack owns its lifecycle here (manage_result_lifecycle).
    boto3.client("s3", **kw).create_bucket(Bucket="facerec-results")

    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
        for i, az in enumerate(["us-east-1a", "us-east-1b"])
    ]
    sg = ec2.create_security_group(GroupName="facerec-workers", Description="workers: egress only", VpcId=vpc)["GroupId"]

    ecr.create_repository(repositoryName="facerec-worker")
    # A minimal but well-formed image manifest; moto derives the digest from it, as ECR does.
    config = b'{"architecture":"amd64","os":"linux"}'
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
        },
        "layers": [],
    }
    image = ecr.put_image(repositoryName="facerec-worker", imageManifest=json.dumps(manifest), imageTag="latest")
    digest = image["image"]["imageId"]["imageDigest"]

    tfvars = {
        "vpc_id": vpc,
        "private_subnet_ids": subnets,
        "security_group_ids": [sg],
        "spot_handler_package_path": lambda_zip,
        "backlog_scaler_package_path": lambda_zip,
        "producer_principal_arns": ["arn:aws:iam::123456789012:role/facerec-producer"],
        "input_s3_prefixes": ["s3://facerec-inputs/images/"],
        "result_s3_prefix": "s3://facerec-results/v1/",
        "manage_result_lifecycle": True,
        # create_alarm_topic is left to its default (true): the check reads the topic back.
    }
    with open(tfvars_out, "w") as f:
        json.dump(tfvars, f, indent=2)
    print(json.dumps({"image_digest": digest, **tfvars}))


if __name__ == "__main__":
    main()
