"""The cartwatch CDK app: stack ``Cartwatch``, one construct per concern of the data flow."""
