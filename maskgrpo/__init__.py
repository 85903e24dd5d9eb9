"""Reinforcement learning for masked (discrete) diffusion models: MaskGRPO and its baselines, notebook first"""

__version__ = "0.1.0"
