"""IAM conformance: every AWS call a cartwatch function makes, checked against its role.

moto authorizes everything, so a missing grant shows only in AWS.  This package closes that
gap for the test tiers and ``cartwatch local``:

- ``calls``      translates one botocore call into the IAM requests AWS would evaluate for it
                 (actions, resource ARNs, condition keys such as ``dynamodb:LeadingKeys``);
- ``recording``  records the calls each function makes (who is calling is named with
                 ``acting_as``), in memory or as JSON lines;
- ``template``   reads the synthesized CloudFormation template: each function's role and
                 policies, the resource policies, intrinsics resolved to the names one
                 environment (moto) gave the stack's resources, and the requests AWS adds on
                 its own (KMS for an encrypted topic or queue);
- ``policy``     evaluates IAM policy statements: Allow/Deny, wildcards, NotAction/NotResource,
                 condition operators;
- ``conformance`` puts them together: violations (a call the function's role would not allow)
                 and the grants no call exercised.
"""
