"""Registration service: patients, OP numbers and visits."""
