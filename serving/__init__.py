"""The serving stage: scoring a snapshot with the champion, planning inspections and estimating prevalence.

It sits between ``models`` (which it may import) and ``api``/``cli`` (which call it). Each job has one
use-case function that the command line, the API and the web pages all call.
"""
