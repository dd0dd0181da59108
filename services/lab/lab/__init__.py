"""Lab service: The lab worklist, results with reference ranges and abnormal/critical flags."""
