"""Adapters: DynamoDB, SQS, SNS, SSM and BigCommerce behind the interfaces the services use."""
